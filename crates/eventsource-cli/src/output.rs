//! How results are printed: as a table for people, or as JSON for
//! programs (a listing as one JSON array).
//!
//! JSON arrays are written element by element as events arrive from the
//! store, so a listing of any length needs the memory of one event.

use std::io::Write;

use clap::ValueEnum;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::Table;

/// `--format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for reading.
    #[default]
    Table,
    /// JSON for programs: listings are one array.
    Json,
}

/// An empty table with these column headers.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.iter().copied());
    table
}

/// Writes a JSON array one already-serialised element at a time, one element
/// per line so the output stays readable and diffable.
pub struct JsonArrayWriter<'a, W: Write> {
    out: &'a mut W,
    elements: u64,
}

impl<'a, W: Write> JsonArrayWriter<'a, W> {
    /// Opens the array.
    pub fn begin(out: &'a mut W) -> std::io::Result<Self> {
        out.write_all(b"[")?;
        Ok(Self { out, elements: 0 })
    }

    /// Adds one element, given as JSON text.
    pub fn element(&mut self, json: &str) -> std::io::Result<()> {
        let separator: &[u8] = if self.elements == 0 { b"\n" } else { b",\n" };
        self.out.write_all(separator)?;
        self.out.write_all(json.as_bytes())?;
        self.elements += 1;
        Ok(())
    }

    /// Closes the array.
    pub fn end(self) -> std::io::Result<()> {
        let closing: &[u8] = if self.elements == 0 { b"]\n" } else { b"\n]\n" };
        self.out.write_all(closing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array_of(elements: &[&str]) -> String {
        let mut out = Vec::new();
        let mut array = JsonArrayWriter::begin(&mut out).unwrap();
        for element in elements {
            array.element(element).unwrap();
        }
        array.end().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_empty_array_is_valid_json() {
        assert_eq!(
            serde_json::from_str::<Vec<u8>>(&array_of(&[])).unwrap(),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn elements_are_separated_into_one_valid_array() {
        let text = array_of(&["{\"a\":1}", "{\"a\":2}"]);
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(text, "[\n{\"a\":1},\n{\"a\":2}\n]\n");
    }
}
