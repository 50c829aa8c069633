//! A bad environment file is refused before anything is sent: exit 1, every problem listed with
//! its place, the secret it wrongly holds never echoed, and the local cloud it points at sees not
//! one request (not even for a token).

mod common;
use common::World;

const FILE_SECRET: &str = "file-secret-Zq9wX";
/// The file is refused before any package is read.
const NO_PACKAGE: &str = "/nonexistent/package.zip";

fn line_of(text: &str, starts: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(starts))
        .unwrap_or_else(|| panic!("no line starts with {starts}"))
        + 1
}

#[tokio::test]
async fn an_invalid_environment_file_is_refused_with_every_problem_and_nothing_sent() {
    let world = World::start_with("bad", "").await;
    let url = world.emulator.url();
    let text = format!(
        r#"name = "abcdefghijkl"
subscription = "not-a-guid"
tenant = "{tenant}"
location = "westeurope"
prefix = "abcdefghij"
colour = "blue"
[plan]
sku = "P1v3"
size = "large"
[security_group]
unique_name = "hero data"
members = ["{deployer}", "12345"]
[auth]
method = "client-secret"
client_id = "{client}"
client_secret = "{FILE_SECRET}"
[endpoints]
authority = "{url}"
resource_manager = "{url}"
graph = "{url}"
[tags]
managed-by = "me"
"#,
        tenant = local_cloud::DEFAULT_TENANT,
        deployer = local_cloud::DEPLOYER_OBJECT_ID,
        client = local_cloud::DEPLOYER_CLIENT_ID,
    );
    std::fs::write(&world.env_file, &text).expect("write env");
    let expected: Vec<(String, &str)> = vec![
        (
            format!("subscription (line {})", line_of(&text, "subscription")),
            "`not-a-guid` is not a GUID",
        ),
        (
            format!("prefix (line {})", line_of(&text, "prefix")),
            "the raw storage account name `stabcdefghabcdefghijklraw",
        ),
        (
            format!("prefix (line {})", line_of(&text, "prefix")),
            "the standard storage account name",
        ),
        (
            format!("prefix (line {})", line_of(&text, "prefix")),
            "the functions storage account name",
        ),
        (
            format!("colour (line {})", line_of(&text, "colour")),
            "unknown key",
        ),
        (
            format!("plan.sku (line {})", line_of(&text, "sku")),
            "`P1v3` is not supported; use B1 (default), Y1 or EP1",
        ),
        (
            format!("plan.size (line {})", line_of(&text, "size")),
            "unknown key",
        ),
        (
            format!(
                "security_group.unique_name (line {})",
                line_of(&text, "unique_name")
            ),
            "letters, digits, '-' and '_' only",
        ),
        ("security_group.members[1]".to_string(), "a GUID"),
        (
            format!(
                "auth.client_secret (line {})",
                line_of(&text, "client_secret")
            ),
            "secrets never go in environment files",
        ),
        (
            format!("tags.managed-by (line {})", line_of(&text, "managed-by")),
            "set by provision to mark ownership",
        ),
    ];

    world.emulator.state.log.clear();
    for command in [
        vec!["validate"],
        vec!["plan", "--output", "json"],
        vec!["up", "--yes", "--package", NO_PACKAGE],
        vec!["drift", "--package", NO_PACKAGE],
        vec!["drift", "--fix", "--package", NO_PACKAGE],
        vec!["output", "--raw", "raw_account"],
        vec!["down", "--yes"],
        vec!["force-unlock"],
        vec!["verify"],
    ] {
        let run = world.provision(&command).await;
        run.assert_code(1, &format!("{command:?} with a bad environment file"));
        assert!(
            run.stdout.is_empty(),
            "{command:?}: nothing on stdout: {}",
            run.stdout
        );
        assert!(
            run.stderr.contains(&format!(
                "{} has {} problem(s); nothing was sent to Azure",
                world.env_file.display(),
                expected.len()
            )),
            "{command:?}:\n{}",
            run.stderr
        );
        for (place, message) in &expected {
            assert!(
                run.stderr
                    .lines()
                    .any(|l| l.starts_with(&format!("  - {place}: ")) && l.contains(message)),
                "{command:?}: no problem at {place} saying {message:?}:\n{}",
                run.stderr
            );
        }
        assert!(
            !run.all().contains(FILE_SECRET),
            "{command:?}: the secret in the file is echoed:\n{}",
            run.stderr
        );
    }
    let sent = world.emulator.requests();
    assert!(
        sent.is_empty(),
        "nothing may reach the cloud, saw: {:?}",
        sent.iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_file_that_is_not_toml_or_not_there_is_refused_without_a_request() {
    let world = World::start_with("broken", "").await;
    let good = std::fs::read_to_string(&world.env_file).expect("env");
    std::fs::write(&world.env_file, format!("{good}\nplan = [unclosed\n")).expect("write");
    world.emulator.state.log.clear();
    let run = world
        .provision(&["up", "--yes", "--package", NO_PACKAGE])
        .await;
    run.assert_code(1, "up with broken TOML");
    assert!(
        run.stderr.contains("not valid TOML")
            && run
                .stderr
                .contains(&format!("line {}", good.lines().count() + 2)),
        "{}",
        run.stderr
    );

    let missing = world.dir.path().join("nope.toml");
    let run = world
        .provision_raw(&[
            "plan".to_string(),
            "--env-file".to_string(),
            missing.display().to_string(),
        ])
        .await;
    run.assert_code(1, "plan with a missing file");
    assert!(
        run.stderr.contains("cannot read environment file") && run.stderr.contains("nope.toml"),
        "{}",
        run.stderr
    );

    let run = world.provision_raw(&["plan".to_string()]).await;
    run.assert_code(1, "plan without an environment");
    assert!(
        run.stderr.contains("--env NAME") && run.stderr.contains("--env-file"),
        "{}",
        run.stderr
    );
    assert!(
        world.emulator.requests().is_empty(),
        "nothing sent: {:?}",
        world
            .emulator
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
}
