use super::*;
use flate2::read::GzDecoder;
use proptest::prelude::*;
use std::io::Read;

/// Inflated by zlib-rs (through flate2), header and trailer checked.
fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(gz).read_to_end(&mut out).unwrap();
    out
}

/// Inflated by a second, independent inflater (miniz_oxide), and the trailer checked by hand.
fn inflate_other(gz: &[u8]) -> Vec<u8> {
    assert_eq!(gz[..10], HEADER);
    let body = &gz[10..gz.len() - 8];
    let out = miniz_oxide::inflate::decompress_to_vec(body).unwrap();
    let trailer = &gz[gz.len() - 8..];
    assert_eq!(trailer[..4], crc32fast::hash(&out).to_le_bytes());
    assert_eq!(trailer[4..], (out.len() as u32).to_le_bytes());
    out
}

fn both_inflate_to(data: &[u8]) -> Vec<u8> {
    let gz = gzip_rows(data);
    assert_eq!(gunzip(&gz), data);
    assert_eq!(inflate_other(&gz), data);
    gz
}

fn zlib(data: &[u8], level: u32) -> Vec<u8> {
    RawGzip::Zlib(level).compress(data).unwrap()
}

/// A buffer_meta-shaped file of `rows` rows, ids from a simple generator (not UUIDv5, but as
/// random-looking).
fn buffer_rows(rows: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut hex = |n: usize| -> String {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b"0123456789abcdef"[(x % 16) as usize])
            })
            .collect()
    };
    let etl = format!("{}-{}-{}-{}-{}", hex(8), hex(4), hex(4), hex(4), hex(12));
    let mut out = b"[".to_vec();
    for i in 0..rows {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        let id = format!("{}-{}-5{}-9{}-{}", hex(8), hex(4), hex(3), hex(3), hex(12));
        out.extend_from_slice(
            format!(
                r#"{{"etl_id": "{etl}", "msg_id": "{id}", "checksum": null, "headers": [], "key": "", "offset": {}, "partition": 3, "serialized_key_size": -1, "serialized_value_size": {}, "timestamp": "2024-01-13T23:59:{:02}.{:06}", "timestamp_type": 0, "topic": "lib.server.game", "_is_protocol": false}}"#,
                538_000 + i,
                480 + (i * 7919) % 90,
                20 + i / 400,
                (i * 104_729) % 1_000_000
            )
            .as_bytes(),
        );
    }
    out.push(b']');
    out
}

#[test]
fn rows_inflate_exactly_in_two_inflaters() {
    for rows in [0, 1, 2, 50, 1000, 3000] {
        both_inflate_to(&buffer_rows(rows));
    }
}

#[test]
fn rows_compress_about_as_well_as_zlib_level_2() {
    let data = buffer_rows(1000);
    let ours = both_inflate_to(&data).len();
    let (level1, level2) = (zlib(&data, 1).len(), zlib(&data, 2).len());
    // Level 1's files are ~60 % larger than level 2's on the real rows; ours stays close to 2.
    assert!(
        (ours as f64) < level2 as f64 * 1.15,
        "ours {ours} bytes, zlib level 2 {level2}, level 1 {level1}"
    );
    assert!(ours < level1, "ours {ours} bytes, zlib level 1 {level1}");
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let data = buffer_rows(300);
    assert_eq!(gzip_rows(&data), gzip_rows(&data));
}

#[test]
fn edge_inputs_inflate_exactly() {
    let mut all_bytes: Vec<u8> = (0..=255).collect();
    all_bytes.extend((0..=255u8).rev());
    let long_run = [b"\"".as_slice(), &[b'x'; 70_000], b"\""].concat();
    let twice = [long_run.as_slice(), &long_run].concat();
    let quotes = vec![b'"'; 5000];
    for data in [
        &b""[..],
        b"[]",
        b"\"",
        &all_bytes,
        &long_run,
        &twice,
        &quotes,
    ] {
        both_inflate_to(data);
    }
}

#[test]
fn incompressible_input_falls_back_to_fixed_codes_without_growing_much() {
    // Uniform bytes: dynamic codes would all be 8 bits plus a header, so the fixed ones are sent.
    let mut x = 1u32;
    let data: Vec<u8> = (0..10_000)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect();
    let gz = both_inflate_to(&data);
    assert!(
        gz.len() < data.len() + data.len() / 8 + 64,
        "{} bytes",
        gz.len()
    );
}

#[test]
fn settings_parse_and_print_back() {
    assert_eq!("rows".parse::<RawGzip>(), Ok(RawGzip::Rows));
    assert_eq!(" 6 ".parse::<RawGzip>(), Ok(RawGzip::Zlib(6)));
    assert_eq!("0".parse::<RawGzip>(), Ok(RawGzip::Zlib(0)));
    for bad in ["10", "-1", "fast", ""] {
        let err = bad.parse::<RawGzip>().unwrap_err();
        assert!(err.contains("rows") && err.contains("0-9"), "{err}");
    }
    assert_eq!(RawGzip::Zlib(2).to_string(), "2");
    assert_eq!(RawGzip::default().to_string(), "rows");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_bytes_inflate_exactly(data in prop::collection::vec(any::<u8>(), 0..4000)) {
        let gz = gzip_rows(&data);
        prop_assert_eq!(gunzip(&gz), data.clone());
        prop_assert_eq!(inflate_other(&gz), data);
    }

    #[test]
    fn json_like_text_inflates_exactly(
        parts in prop::collection::vec(
            prop_oneof![
                Just("\"etl_id\": ".to_string()),
                Just("\", \"".to_string()),
                Just("\"timestamp\": \"2024-01-13T23:59:".to_string()),
                "[a-f0-9]{1,40}",
                "[ -~]{0,20}",
            ],
            0..600,
        )
    ) {
        let data = parts.concat().into_bytes();
        let gz = gzip_rows(&data);
        prop_assert_eq!(gunzip(&gz), data.clone());
        prop_assert_eq!(inflate_other(&gz), data);
    }
}
