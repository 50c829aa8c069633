//! The launchers against the real tools, and what a broken tool looks like.

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use test_kit::{service_for_test, Tool};

fn accepts(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[test]
fn each_service_listens_on_loopback_and_is_gone_after_drop() {
    for tool in [Tool::Redis, Tool::Azurite, Tool::Tansu] {
        let Some(service) = service_for_test(tool) else {
            continue;
        };
        let port = service.port;
        assert!(accepts(port), "{} accepts connections", tool.name());
        assert_eq!(service.address(), format!("127.0.0.1:{port}"));
        drop(service);
        assert!(!accepts(port), "{} is killed on drop", tool.name());
    }
}

/// A port another process listens on does not pass for the child's: two test processes can pick
/// the same free port for their children at once, and the child that lost the race must not be
/// taken for started while the other's service answers.
#[test]
fn another_process_on_the_port_does_not_pass_for_the_child() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local address").port();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("sleep starts");
    let waited = test_kit::wait_listening(
        "sleeper",
        port,
        &mut child,
        std::time::Duration::from_millis(600),
    );
    let _ = child.kill();
    let _ = child.wait();
    let error = waited.expect_err("the listener is this test's, not the child's");
    let text = format!("{error:#}");
    assert!(
        text.contains(&format!("sleeper did not listen on 127.0.0.1:{port}")),
        "{text}"
    );
    drop(listener);
}

#[test]
fn a_tool_that_exits_at_start_is_an_error_naming_it_and_its_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("redis-server");
    std::fs::write(&fake, "#!/bin/sh\necho 'bad config line' >&2\nexit 3\n").expect("write");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let error = test_kit::redis(&fake).expect_err("a tool that exits is not a service");
    let text = format!("{error:#}");
    assert!(
        text.contains("redis-server exited while starting"),
        "{text}"
    );
    assert!(text.contains("exit status: 3"), "{text}");
    assert!(
        text.contains("redis.log"),
        "the error names the log: {text}"
    );
    assert!(
        text.contains("bad config line"),
        "the error carries the end of the log: {text}"
    );
}

#[test]
fn azurite_keeps_its_data_in_the_folder_it_is_given_after_it_stops() {
    let Some(bin) = Tool::Azurite.for_test() else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let service = test_kit::Azurite::new(bin)
        .account("kitacct", "a2l0LXRlc3Qta2V5LTAxMjM0NTY3ODlhYmNkZWY=")
        .location(data.path())
        .start()
        .expect("azurite starts");
    assert_eq!(service.log_path(), data.path().join("azurite.log"));
    service.stop(std::time::Duration::from_secs(5));
    let kept: Vec<String> = std::fs::read_dir(data.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        kept.contains(&"azurite.log".to_string()) && kept.len() > 1,
        "Azurite's metadata and log stay in the caller's folder: {kept:?}"
    );
}
