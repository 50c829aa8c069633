//! The data contract of the five log models, rendered as the table in `runtime/docs/data-contract.md`.
//!
//! The contract itself is code: [`Folder::columns`] (names, order, kinds, nullability),
//! [`super::timestamp`] (accepted timestamp forms and range) and the integer ranges of each
//! [`ColumnKind`]. The converter checks exactly these; this module only describes them, and a test
//! keeps the document equal to what it renders, so the two cannot drift apart.

use std::fmt::Write as _;

use super::schema::{Column, ColumnKind, Folder, TimestampPrecision};

/// The JSON value a raw record must carry for `kind`.
pub fn json_type(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Utf8 => "string",
        ColumnKind::Utf8List => "array of strings",
        ColumnKind::Bool => "`true` / `false`",
        ColumnKind::UInt8 | ColumnKind::UInt16 | ColumnKind::UInt64 | ColumnKind::Int16 => {
            "integer"
        }
        ColumnKind::Timestamp(_) => "timestamp string",
    }
}

/// How the column is stored in Parquet (Arrow type).
pub fn stored_as(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Utf8 => "utf8",
        ColumnKind::Utf8List => "list<utf8>",
        ColumnKind::Bool => "bool",
        ColumnKind::UInt8 => "uint8",
        ColumnKind::UInt16 => "uint16",
        ColumnKind::UInt64 => "uint64",
        ColumnKind::Int16 => "int16",
        ColumnKind::Timestamp(_) => "timestamp[ms]",
    }
}

/// The values accepted for `kind`.
pub fn range(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Utf8 => "any text, may be empty",
        ColumnKind::Utf8List => "0 or more strings, none null",
        ColumnKind::Bool => "—",
        ColumnKind::UInt8 => "0 … 255",
        ColumnKind::UInt16 => "0 … 65535",
        ColumnKind::UInt64 => "0 … 18446744073709551615",
        ColumnKind::Int16 => "-32768 … 32767",
        ColumnKind::Timestamp(TimestampPrecision::Millisecond) => {
            "years 0001 … 9999; truncated to the millisecond"
        }
        ColumnKind::Timestamp(TimestampPrecision::Second) => {
            "years 0001 … 9999; truncated to the second"
        }
    }
}

fn row(out: &mut String, column: &Column) {
    let null = if column.nullable { "yes" } else { "no" };
    let _ = writeln!(
        out,
        "| `{}` | {} | {} | {} | {} |",
        column.name,
        json_type(column.kind),
        stored_as(column.kind),
        null,
        range(column.kind)
    );
}

/// The Markdown tables, one per folder, in [`Folder::ALL`] order.
pub fn render_markdown() -> String {
    let mut out = String::new();
    for folder in Folder::ALL {
        let _ = writeln!(out, "### `{folder}`\n");
        out.push_str("| field | JSON value | stored as | may be null | accepted values |\n");
        out.push_str("|---|---|---|---|---|\n");
        for column in folder.columns() {
            row(&mut out, column);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "docs/data-contract.md";
    const BEGIN: &str = "<!-- contract tables: begin (rendered by runtime::etl::contract) -->\n";
    const END: &str = "<!-- contract tables: end -->";

    /// The document shows exactly the tables the code enforces. `UPDATE_CONTRACT_DOC=1` rewrites them.
    #[test]
    fn the_document_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
        let doc = std::fs::read_to_string(&path).expect("runtime/docs/data-contract.md");
        let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
        let end = doc.find(END).expect("end marker");
        let rendered = render_markdown();
        if std::env::var_os("UPDATE_CONTRACT_DOC").is_some() {
            let updated = format!("{}{rendered}{}", &doc[..start], &doc[end..]);
            std::fs::write(&path, updated).expect("write the document");
            return;
        }
        assert_eq!(
            &doc[start..end],
            rendered,
            "{DOC} is out of date: run UPDATE_CONTRACT_DOC=1 cargo test -p superhero-runtime --lib contract"
        );
    }

    #[test]
    fn only_the_always_null_checksum_may_be_null() {
        let nullable: Vec<(Folder, &str)> = Folder::ALL
            .into_iter()
            .flat_map(|f| {
                f.columns()
                    .iter()
                    .filter(|c| c.nullable)
                    .map(move |c| (f, c.name))
            })
            .collect();
        assert_eq!(nullable, vec![(Folder::BufferMeta, "checksum")]);
    }
}
