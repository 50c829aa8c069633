//! Column builders that collect validated rows into Arrow record batches.
//!
//! Rows read in one pass ([`super::direct`]) are appended straight from the inflated bytes; rows that
//! took the general path arrive as [`Cell`]s.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Int16Builder, ListBuilder, StringBuilder,
    TimestampMillisecondBuilder, UInt16Builder, UInt64Builder, UInt8Builder,
};
use arrow::datatypes::{Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::direct::{self, RowSlots, Slot, Span};
use super::record::Cell;
use super::schema::{ColumnKind, Folder};

enum ColumnBuilder {
    Utf8(StringBuilder),
    Utf8List(ListBuilder<StringBuilder>),
    Bool(BooleanBuilder),
    UInt8(UInt8Builder),
    UInt16(UInt16Builder),
    UInt64(UInt64Builder),
    Int16(Int16Builder),
    TimestampMillis(TimestampMillisecondBuilder),
}

impl ColumnBuilder {
    fn new(kind: ColumnKind) -> Self {
        match kind {
            ColumnKind::Utf8 => Self::Utf8(StringBuilder::new()),
            ColumnKind::Utf8List => {
                Self::Utf8List(ListBuilder::new(StringBuilder::new()).with_field(Arc::new(
                    Field::new("item", arrow::datatypes::DataType::Utf8, true),
                )))
            }
            ColumnKind::Bool => Self::Bool(BooleanBuilder::new()),
            ColumnKind::UInt8 => Self::UInt8(UInt8Builder::new()),
            ColumnKind::UInt16 => Self::UInt16(UInt16Builder::new()),
            ColumnKind::UInt64 => Self::UInt64(UInt64Builder::new()),
            ColumnKind::Int16 => Self::Int16(Int16Builder::new()),
            ColumnKind::Timestamp(_) => Self::TimestampMillis(TimestampMillisecondBuilder::new()),
        }
    }

    fn append(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (Self::Utf8(b), Cell::Utf8(v)) => b.append_value(v),
            (Self::Utf8List(b), Cell::Utf8List(items)) => {
                for item in items {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            (Self::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (Self::UInt8(b), Cell::UInt8(v)) => b.append_value(v),
            (Self::UInt16(b), Cell::UInt16(v)) => b.append_value(v),
            (Self::UInt64(b), Cell::UInt64(v)) => b.append_value(v),
            (Self::Int16(b), Cell::Int16(v)) => b.append_value(v),
            (Self::TimestampMillis(b), Cell::TimestampMillis(v)) => b.append_value(v),
            (builder, cell) => {
                debug_assert!(
                    matches!(cell, Cell::Null),
                    "record::to_cell produced a cell of the wrong kind"
                );
                builder.append_null();
            }
        }
    }

    /// Appends one slot read by [`direct::parse`]; `element` is the record's text.
    fn append_slot(&mut self, element: &str, slot: Slot, items: &[Span], scratch: &mut String) {
        match (self, slot) {
            (Self::Utf8(b), Slot::Str(span)) => append_str(b, element, span, scratch),
            (Self::Utf8List(b), Slot::List { first, len }) => {
                for span in items.get(first..first + len).unwrap_or_default() {
                    append_str(b.values(), element, *span, scratch);
                }
                b.append(true);
            }
            (Self::Bool(b), Slot::Bool(v)) => b.append_value(v),
            (Self::UInt8(b), Slot::UInt8(v)) => b.append_value(v),
            (Self::UInt16(b), Slot::UInt16(v)) => b.append_value(v),
            (Self::UInt64(b), Slot::UInt64(v)) => b.append_value(v),
            (Self::Int16(b), Slot::Int16(v)) => b.append_value(v),
            (Self::TimestampMillis(b), Slot::Millis(v)) => b.append_value(v),
            (builder, slot) => {
                debug_assert!(
                    matches!(slot, Slot::Null),
                    "direct::parse produced a slot of the wrong kind"
                );
                builder.append_null();
            }
        }
    }

    fn append_null(&mut self) {
        match self {
            Self::Utf8(b) => b.append_null(),
            Self::Utf8List(b) => b.append_null(),
            Self::Bool(b) => b.append_null(),
            Self::UInt8(b) => b.append_null(),
            Self::UInt16(b) => b.append_null(),
            Self::UInt64(b) => b.append_null(),
            Self::Int16(b) => b.append_null(),
            Self::TimestampMillis(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::Utf8List(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::UInt8(b) => Arc::new(b.finish()),
            Self::UInt16(b) => Arc::new(b.finish()),
            Self::UInt64(b) => Arc::new(b.finish()),
            Self::Int16(b) => Arc::new(b.finish()),
            Self::TimestampMillis(b) => Arc::new(b.finish()),
        }
    }
}

/// Appends a string's text: borrowed from the element, or decoded into `scratch` when escaped.
fn append_str(builder: &mut StringBuilder, element: &str, span: Span, scratch: &mut String) {
    // Spans start and end next to a quote, so they are on character boundaries.
    let raw = element.get(span.start..span.end).unwrap_or_default();
    if span.escaped {
        scratch.clear();
        direct::unescape_into(raw, scratch);
        builder.append_value(&*scratch);
    } else {
        builder.append_value(raw);
    }
}

/// Rows of one folder collected column by column.
pub(crate) struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    rows: usize,
    /// Decoded text of an escaped string, reused.
    scratch: String,
}

impl BatchBuilder {
    pub(crate) fn new(folder: Folder) -> Self {
        Self {
            schema: folder.arrow_schema(),
            columns: folder
                .columns()
                .iter()
                .map(|c| ColumnBuilder::new(c.kind))
                .collect(),
            rows: 0,
            scratch: String::new(),
        }
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one validated row (one cell per column, in column order).
    pub(crate) fn append_row(&mut self, row: Vec<Cell<'_>>) {
        debug_assert_eq!(row.len(), self.columns.len());
        for (builder, cell) in self.columns.iter_mut().zip(row) {
            builder.append(cell);
        }
        self.rows += 1;
    }

    /// Appends one row read by [`direct::parse`] from `element`.
    pub(crate) fn append_slots(&mut self, element: &str, row: &RowSlots) {
        debug_assert_eq!(row.slots.len(), self.columns.len());
        for (builder, slot) in self.columns.iter_mut().zip(&row.slots) {
            builder.append_slot(element, *slot, &row.items, &mut self.scratch);
        }
        self.rows += 1;
    }

    /// Takes the collected rows as a batch and starts over.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let arrays = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
    }
}
