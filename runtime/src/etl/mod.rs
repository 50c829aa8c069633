//! Raw batch -> Parquet conversion.
