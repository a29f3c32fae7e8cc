//! 导出 — a report table as CSV (UTF-8 with a byte-order mark, so Excel
//! opens the Chinese headers correctly) or as an Excel workbook (.xlsx),
//! written by the `csv` and `rust_xlsxwriter` crates.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// One cell: text, or a number (money is exported in yuan with two decimals).
#[derive(Debug, Clone)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// Fen, exported as yuan.
    Money(i64),
    /// A measured value (an indicator, a rate); empty when there is none.
    Real(Option<f64>),
}

/// A titled table.
#[derive(Debug, Clone)]
pub struct Table {
    /// The sheet name and the file name's stem.
    pub name: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// From a file extension (`csv`, `xlsx`).
    pub fn parse(ext: &str) -> Option<Format> {
        match ext {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
}

fn text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Int(n) => n.to_string(),
        Cell::Money(f) => yilian_domain::money::yuan(*f),
        Cell::Real(v) => v.map(|v| format!("{v:.2}")).unwrap_or_default(),
    }
}

/// CSV bytes: a BOM, the header row, the rows.
pub fn csv_bytes(t: &Table) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let fail = |_| ApiError::internal();
    w.write_record(&t.headers).map_err(fail)?;
    for r in &t.rows {
        w.write_record(r.iter().map(text)).map_err(fail)?;
    }
    w.into_inner().map_err(|_| ApiError::internal())
}

/// An .xlsx workbook of one sheet: bold headers, numbers as numbers.
pub fn xlsx_bytes(t: &Table) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format as XFormat, Workbook};
    let fail = |_| ApiError::internal();
    let mut book = Workbook::new();
    let bold = XFormat::new().set_bold();
    let money = XFormat::new().set_num_format("0.00");
    let sheet = book.add_worksheet();
    let name: String = t
        .name
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect();
    sheet.set_name(&name).map_err(fail)?;
    for (c, h) in t.headers.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *h, &bold)
            .map_err(fail)?;
    }
    for (r, row) in t.rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => sheet.write_string(r, c, s).map(|_| ()),
                Cell::Int(n) => sheet.write_number(r, c, *n as f64).map(|_| ()),
                Cell::Money(f) => sheet
                    .write_number_with_format(r, c, *f as f64 / 100.0, &money)
                    .map(|_| ()),
                Cell::Real(Some(v)) => sheet.write_number_with_format(r, c, *v, &money).map(|_| ()),
                Cell::Real(None) => Ok(()),
            }
            .map_err(fail)?;
        }
    }
    book.save_to_buffer().map_err(fail)
}

/// The table as a download.
pub fn download(t: &Table, f: Format) -> Result<Response, ApiError> {
    let (bytes, mime, ext) = match f {
        Format::Csv => (csv_bytes(t)?, "text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (
            xlsx_bytes(t)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    // RFC 5987: the UTF-8 file name percent-encoded, an ASCII fallback.
    let encoded: String = url::form_urlencoded::byte_serialize(t.name.as_bytes()).collect();
    let disposition =
        format!("attachment; filename=\"export.{ext}\"; filename*=UTF-8''{encoded}.{ext}");
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
