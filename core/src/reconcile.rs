//! Reconciliation (对账): the terminal's journal against the acquirer's
//! daily statement file.
//!
//! A [`Statement`] is read from JSON ([`Statement::from_json`], the simulated
//! acquirer's format, also what [`statement_from_ledger`] produces) or from
//! CSV ([`Statement::from_csv`], close to Chinese acquirers' daily files).
//! Either reader checks every line and returns `STATEMENT_MALFORMED` naming
//! the line and field of the first bad one; no partial statement is ever
//! returned. [`reconcile`] then matches each terminal record to a statement
//! line — by terminal + trace number + date first, then by RRN — and sorts
//! every record and line into a [`Category`], each with its amounts and a
//! next step in zh-CN and en.
//!
//! # The CSV format
//!
//! UTF-8, with or without a byte-order mark; lines end in `\n` or `\r\n`.
//! Fields are separated by commas and may be quoted with `"` (RFC 4180: a
//! quoted field may hold commas, line breaks and `""` for a quote). Spaces
//! and tabs around a value are ignored, and so is one leading `` ` `` or `'`
//! (acquirers prefix numbers with it so spreadsheets keep leading zeros).
//! Empty lines are skipped.
//!
//! The first line is a header naming the columns, in any order, in English
//! or in Chinese; other columns (清算日期, 结算金额 …) are ignored:
//!
//! | column | 中文 | value |
//! |---|---|---|
//! | `date` | 交易日期 | `YYYYMMDD` or `YYYY-MM-DD`, local date |
//! | `time` | 交易时间 | `HHMMSS` or `HH:MM:SS`, local time |
//! | `merchant_id` | 商户编号 | 15 letters or digits |
//! | `terminal_id` | 终端编号 | 8 letters or digits |
//! | `batch_no` | 批次号 | 6 digits |
//! | `trace_no` | 凭证号 | 6 digits |
//! | `rrn` | 参考号 | 12 letters or digits, or empty |
//! | `auth_code` | 授权码 | 6 letters or digits, or empty |
//! | `card_no` | 卡号 | masked (`622202*********3445`), or empty; a full number is masked on reading and never kept |
//! | `type` | 交易类型 | `sale` 消费, `void` 消费撤销, `refund` 退货, `pre_auth` 预授权, `pre_auth_cancel` 预授权撤销, `completion` 预授权完成, `completion_advice` 预授权完成（通知）, `completion_void` 预授权完成撤销 |
//! | `amount` | 交易金额 | decimal string in the statement's currency, > 0; the credit types (void, refund, completion void) may be written negative |
//! | `fee` | 手续费 | decimal string, may be negative or empty (zero) |
//! | `status` | 清算状态 | `settled` 已清算, `pending` 处理中, `reversed` 已冲正, `returned` 已退回, `declined` 失败 |
//!
//! ```text
//! 交易日期,交易时间,商户编号,终端编号,批次号,凭证号,参考号,授权码,卡号,交易类型,交易金额,手续费,清算状态
//! 20261123,003000,898440350480001,10000001,000001,000001,000000000001,123456,622202*********3445,消费,100.00,0.38,已清算
//! ```
//!
//! The currency is not a column: a daily file is in the merchant's
//! settlement currency, which the caller passes in.
//!
//! # Categories
//!
//! | category | terminal | acquirer | unexplained |
//! |---|---|---|---|
//! | matched | approved, or declined/reversed | the same | no |
//! | terminal only | approved | no line | yes |
//! | acquirer only | no record, or declined/reversed | settled or pending | yes |
//! | amount mismatch | approved | another amount | yes |
//! | returned or reversed | approved | returned, reversed or declined | yes |
//! | refund credited | refund approved | settled | no |
//! | refund returned | refund approved | returned | no: the refund moves to `returned` and is re-planned |
//! | refund pending | refund approved | pending | no |
//! | unresolved | in doubt or in review | anything | yes |
//!
//! The day balances when no item is unexplained.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::acquirer::Posting;
use crate::card;
use crate::error::PosError;
use crate::host::{BatchNo, TraceNo};
use crate::money::{Currency, Money};
use crate::receipt::redact_card_numbers;
use crate::record::{Kind, TxnId};
use crate::sorted::SortedSet;
use crate::terminal::{message_type, Terminal, Transaction, TxnState};
use crate::time::{Date, Timestamp};
use crate::totals::{net_direction, SignedMoney};

/// What the acquirer says became of a line (清算状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// Cleared: the money moved (for a refund: credited to the card).
    Settled,
    /// Accepted, not yet cleared (a refund still processing).
    Pending,
    /// Undone by a reversal (冲正); no money moved.
    Reversed,
    /// The money moved and came back (issuer returned it, card cancelled,
    /// batch never uploaded).
    Returned,
    /// Refused; no money moved.
    Declined,
}

impl LineStatus {
    /// Every status.
    pub const ALL: [LineStatus; 5] = [
        LineStatus::Settled,
        LineStatus::Pending,
        LineStatus::Reversed,
        LineStatus::Returned,
        LineStatus::Declined,
    ];

    /// The English name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            LineStatus::Settled => "settled",
            LineStatus::Pending => "pending",
            LineStatus::Reversed => "reversed",
            LineStatus::Returned => "returned",
            LineStatus::Declined => "declined",
        }
    }

    /// The Chinese name used in files.
    pub fn zh(self) -> &'static str {
        match self {
            LineStatus::Settled => "已清算",
            LineStatus::Pending => "处理中",
            LineStatus::Reversed => "已冲正",
            LineStatus::Returned => "已退回",
            LineStatus::Declined => "失败",
        }
    }

    /// Parses either name (English case-insensitively).
    pub fn parse(text: &str) -> Option<LineStatus> {
        LineStatus::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text) || s.zh() == text)
    }

    /// Whether money moved to or from the card and stayed moved (or will).
    fn money_moved(self) -> bool {
        match self {
            LineStatus::Settled | LineStatus::Pending => true,
            LineStatus::Reversed | LineStatus::Returned | LineStatus::Declined => false,
        }
    }
}

/// A local time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime {
    /// 0–23.
    pub hour: u32,
    /// 0–59.
    pub minute: u32,
    /// 0–59.
    pub second: u32,
}

impl std::fmt::Display for LocalTime {
    /// `HH:MM:SS`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

/// One line of the acquirer's statement, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// Where it was read: the file's line for CSV, the 1-based entry of
    /// `lines` for JSON and ledgers.
    pub line: u64,
    /// Local transaction date.
    pub date: Date,
    /// Local transaction time.
    pub time: LocalTime,
    /// Merchant id (商户编号).
    pub merchant_id: String,
    /// Terminal id (终端编号).
    pub terminal_id: String,
    /// Batch (批次号).
    pub batch_no: BatchNo,
    /// Trace number (凭证号).
    pub trace_no: TraceNo,
    /// RRN (参考号).
    pub rrn: Option<String>,
    /// Auth code (授权码).
    pub auth_code: Option<String>,
    /// The card, masked; never a full number.
    pub card: Option<String>,
    /// The transaction type.
    pub kind: Kind,
    /// The amount, always positive; the type says the direction.
    pub amount: Money,
    /// The acquirer's fee (手续费).
    pub fee: SignedMoney,
    /// What became of it.
    pub status: LineStatus,
}

/// The acquirer's daily statement: every line checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The settlement currency of every amount.
    pub currency: Currency,
    /// The business dates it covers: the dates given plus every line's date.
    /// A terminal record of one of these dates missing from the statement is
    /// "terminal only".
    pub dates: SortedSet<Date>,
    /// The lines, in file order.
    pub lines: Vec<StatementLine>,
}

/// The JSON form (also the CSV's columns), every value a string.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawStatement {
    currency: String,
    #[serde(default)]
    dates: Vec<String>,
    lines: Vec<RawLine>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawLine {
    date: String,
    time: String,
    merchant_id: String,
    terminal_id: String,
    batch_no: String,
    trace_no: String,
    #[serde(default)]
    rrn: String,
    #[serde(default)]
    auth_code: String,
    #[serde(default)]
    card: String,
    #[serde(rename = "type")]
    kind: String,
    amount: String,
    #[serde(default)]
    fee: String,
    status: String,
}

/// The statement's columns, with their CSV, Chinese and JSON names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Date,
    Time,
    MerchantId,
    TerminalId,
    BatchNo,
    TraceNo,
    Rrn,
    AuthCode,
    Card,
    Type,
    Amount,
    Fee,
    Status,
}

const COLUMNS: [Column; 13] = [
    Column::Date,
    Column::Time,
    Column::MerchantId,
    Column::TerminalId,
    Column::BatchNo,
    Column::TraceNo,
    Column::Rrn,
    Column::AuthCode,
    Column::Card,
    Column::Type,
    Column::Amount,
    Column::Fee,
    Column::Status,
];

/// Which reader is naming a field in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

impl Column {
    fn csv(self) -> &'static str {
        match self {
            Column::Date => "date",
            Column::Time => "time",
            Column::MerchantId => "merchant_id",
            Column::TerminalId => "terminal_id",
            Column::BatchNo => "batch_no",
            Column::TraceNo => "trace_no",
            Column::Rrn => "rrn",
            Column::AuthCode => "auth_code",
            Column::Card => "card_no",
            Column::Type => "type",
            Column::Amount => "amount",
            Column::Fee => "fee",
            Column::Status => "status",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Column::Date => "交易日期",
            Column::Time => "交易时间",
            Column::MerchantId => "商户编号",
            Column::TerminalId => "终端编号",
            Column::BatchNo => "批次号",
            Column::TraceNo => "凭证号",
            Column::Rrn => "参考号",
            Column::AuthCode => "授权码",
            Column::Card => "卡号",
            Column::Type => "交易类型",
            Column::Amount => "交易金额",
            Column::Fee => "手续费",
            Column::Status => "清算状态",
        }
    }

    fn json(self) -> &'static str {
        match self {
            Column::Date => "date",
            Column::Time => "time",
            Column::MerchantId => "merchantId",
            Column::TerminalId => "terminalId",
            Column::BatchNo => "batchNo",
            Column::TraceNo => "traceNo",
            Column::Rrn => "rrn",
            Column::AuthCode => "authCode",
            Column::Card => "card",
            Column::Type => "type",
            Column::Amount => "amount",
            Column::Fee => "fee",
            Column::Status => "status",
        }
    }

    fn name(self, format: Format) -> &'static str {
        match format {
            Format::Csv => self.csv(),
            Format::Json => self.json(),
        }
    }

    fn from_header(text: &str) -> Option<Column> {
        COLUMNS
            .into_iter()
            .find(|c| c.csv().eq_ignore_ascii_case(text) || c.zh() == text)
    }
}

fn malformed(line: u64, field: &str, expected: &str, found: &str) -> PosError {
    PosError::StatementMalformed {
        line,
        field: field.to_owned(),
        expected: expected.to_owned(),
        // A misplaced card number must not travel on in an error.
        found: crate::money::truncate_for_error(&redact_card_numbers(found)),
    }
}

/// One line's values before checking, borrowed from either reader.
struct LineFields<'a> {
    values: [&'a str; 13],
}

impl<'a> LineFields<'a> {
    fn get(&self, c: Column) -> &'a str {
        self.values[c as usize]
    }
}

// `COLUMNS` lists the columns in declaration order, so a column's
// discriminant is its position (what `LineFields::get` and the CSV header
// rely on).
const _: () = {
    let mut i = 0;
    while i < COLUMNS.len() {
        assert!(COLUMNS[i] as usize == i);
        i += 1;
    }
};

/// The value of ASCII digits (the caller has checked them).
fn digits_value(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'))
}

/// `N` ASCII digits from `text` of `N` digits, or of `N + 2` characters with
/// `sep` after the 4th (dates) or 2nd (times) digit and two digits later.
fn separated_digits<const N: usize>(text: &str, sep: u8, first: usize) -> Option<[u8; N]> {
    let b = text.as_bytes();
    let mut digits = [0u8; N];
    if b.len() == N {
        digits.copy_from_slice(b);
    } else if b.len() == N + 2 && b[first] == sep && b[first + 3] == sep {
        digits[..first].copy_from_slice(&b[..first]);
        digits[first..first + 2].copy_from_slice(&b[first + 1..first + 3]);
        digits[first + 2..].copy_from_slice(&b[first + 4..]);
    } else {
        return None;
    }
    digits.iter().all(u8::is_ascii_digit).then_some(digits)
}

fn parse_date(text: &str) -> Option<Date> {
    // Digits only: no allocation per line (this runs once per statement line).
    let digits: [u8; 8] = separated_digits(text, b'-', 4)?;
    let year = digits_value(&digits[..4]) as i32;
    let month = digits_value(&digits[4..6]);
    let day = digits_value(&digits[6..]);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in_month)
        .contains(&day)
        .then_some(Date { year, month, day })
}

fn parse_time(text: &str) -> Option<LocalTime> {
    let digits: [u8; 6] = separated_digits(text, b':', 2)?;
    let t = LocalTime {
        hour: digits_value(&digits[..2]),
        minute: digits_value(&digits[2..4]),
        second: digits_value(&digits[4..]),
    };
    (t.hour < 24 && t.minute < 60 && t.second < 60).then_some(t)
}

fn parse_kind(text: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| {
        k.as_str().eq_ignore_ascii_case(text)
            || k.names().0 == text
            // Files write the advice with ASCII or full-width brackets, or none.
            || (*k == Kind::CompletionAdvice
                && matches!(text, "预授权完成(通知)" | "预授权完成通知" | "离线结算"))
    })
}

fn alnum(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A masked card as a statement may show it: digits and `*`, at least one
/// `*`, 12–19 characters. A bare number is masked here and never kept.
fn parse_card(text: &str) -> Option<String> {
    let ok_chars = text.bytes().all(|b| b.is_ascii_digit() || b == b'*');
    if !ok_chars || !(12..=19).contains(&text.len()) {
        return None;
    }
    if text.contains('*') {
        Some(text.to_owned())
    } else {
        Some(card::mask(text))
    }
}

/// Parses an amount written with an optional leading `-`; zero allowed only
/// when `allow_zero`.
fn parse_money(text: &str, currency: Currency, allow_zero: bool) -> Option<(Money, bool)> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let money = if allow_zero {
        Money::parse_non_negative(digits, currency)
    } else {
        Money::parse(digits, currency)
    }
    .ok()?;
    Some((money, negative && !money.is_zero()))
}

fn check_line(
    f: &LineFields<'_>,
    line: u64,
    currency: Currency,
    format: Format,
) -> Result<StatementLine, PosError> {
    let bad = |c: Column, expected: &str| malformed(line, c.name(format), expected, f.get(c));
    let optional = |c: Column, len: usize, expected: &str| {
        let v = f.get(c);
        if v.is_empty() {
            Ok(None)
        } else if alnum(v, len) {
            Ok(Some(v.to_owned()))
        } else {
            Err(bad(c, expected))
        }
    };
    let date = parse_date(f.get(Column::Date))
        .ok_or_else(|| bad(Column::Date, "a date YYYYMMDD or YYYY-MM-DD"))?;
    let time = parse_time(f.get(Column::Time))
        .ok_or_else(|| bad(Column::Time, "a time HHMMSS or HH:MM:SS"))?;
    let merchant_id = f.get(Column::MerchantId);
    if !alnum(merchant_id, 15) {
        return Err(bad(Column::MerchantId, "15 letters or digits"));
    }
    let terminal_id = f.get(Column::TerminalId);
    if !alnum(terminal_id, 8) {
        return Err(bad(Column::TerminalId, "8 letters or digits"));
    }
    let batch_no = BatchNo::parse(f.get(Column::BatchNo))
        .map_err(|_| bad(Column::BatchNo, "6 digits, 000001 to 999999"))?;
    let trace_no = TraceNo::parse(f.get(Column::TraceNo))
        .map_err(|_| bad(Column::TraceNo, "6 digits, 000001 to 999999"))?;
    let rrn = optional(Column::Rrn, 12, "12 letters or digits, or empty")?;
    let auth_code = optional(Column::AuthCode, 6, "6 letters or digits, or empty")?;
    let card_text = f.get(Column::Card);
    let card = if card_text.is_empty() {
        None
    } else {
        // Never echo what may be a card number, not even cut short.
        Some(parse_card(card_text).ok_or_else(|| {
            malformed(
                line,
                Column::Card.name(format),
                "a masked card number (digits and *), 12 to 19 characters",
                &format!("{} characters", card_text.chars().count()),
            )
        })?)
    };
    let kind = parse_kind(f.get(Column::Type))
        .ok_or_else(|| bad(Column::Type, "a transaction type such as sale or 消费"))?;
    let (amount, negative) =
        parse_money(f.get(Column::Amount), currency, false).ok_or_else(|| {
            bad(
                Column::Amount,
                &format!(
                    "a decimal amount above zero with at most {} decimals",
                    currency.minor_units()
                ),
            )
        })?;
    if negative && net_direction(kind) != Some(true) {
        return Err(bad(
            Column::Amount,
            "a positive amount (only voids and refunds may be negative)",
        ));
    }
    let fee_text = f.get(Column::Fee);
    let fee = if fee_text.is_empty() {
        SignedMoney::zero(currency)
    } else {
        let (m, neg) = parse_money(fee_text, currency, true).ok_or_else(|| {
            bad(
                Column::Fee,
                &format!(
                    "a decimal fee with at most {} decimals, or empty",
                    currency.minor_units()
                ),
            )
        })?;
        SignedMoney::from_money(m, neg)
    };
    let status = LineStatus::parse(f.get(Column::Status)).ok_or_else(|| {
        bad(
            Column::Status,
            "settled, pending, reversed, returned or declined (已清算, 处理中, 已冲正, 已退回, 失败)",
        )
    })?;
    Ok(StatementLine {
        line,
        date,
        time,
        merchant_id: merchant_id.to_owned(),
        terminal_id: terminal_id.to_owned(),
        batch_no,
        trace_no,
        rrn,
        auth_code,
        card,
        kind,
        amount,
        fee,
        status,
    })
}

/// Where CSV text breaks RFC 4180: the line, the 0-based field index, and
/// what was expected.
type CsvError = (u64, usize, &'static str);

/// An RFC 4180 reader yielding one record at a time. Fields borrow from the
/// text; only a quoted field holding `""` is copied. A statement of 100,000
/// lines is read without a string allocated per field.
struct CsvReader<'a> {
    text: &'a str,
    /// The next byte to read.
    at: usize,
    /// The line of `at`.
    line: u64,
}

impl<'a> CsvReader<'a> {
    fn new(text: &'a str) -> Self {
        CsvReader {
            text,
            at: 0,
            line: 1,
        }
    }

    /// Reads the next record into `fields` (cleared first) and returns the
    /// line it starts on, or `None` at the end of the text. Errors name the
    /// line and the 0-based field index.
    fn next_record(&mut self, fields: &mut Vec<Cow<'a, str>>) -> Result<Option<u64>, CsvError> {
        fields.clear();
        let text = self.text;
        let bytes = text.as_bytes();
        let mut i = self.at;
        let mut line = self.line;
        // Skip empty lines.
        loop {
            match bytes.get(i) {
                None => {
                    self.at = i;
                    self.line = line;
                    return Ok(None);
                }
                Some(b'\n') => {
                    line += 1;
                    i += 1;
                }
                Some(b'\r') if bytes.get(i + 1) == Some(&b'\n') => {
                    line += 1;
                    i += 2;
                }
                Some(_) => break,
            }
        }
        let start_line = line;
        // Splitting only at ASCII bytes keeps each field valid UTF-8.
        loop {
            // At the start of a field.
            if bytes.get(i) == Some(&b'"') {
                i += 1;
                let start = i;
                // The field so far, once a `""` made it differ from the text.
                let mut unescaped: Option<String> = None;
                let mut copied_to = start;
                let field = loop {
                    match bytes.get(i) {
                        None => return Err((start_line, fields.len(), "a closing quote")),
                        Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                            // Keep the first quote of the pair, skip the second.
                            unescaped
                                .get_or_insert_with(String::new)
                                .push_str(&text[copied_to..=i]);
                            i += 2;
                            copied_to = i;
                        }
                        Some(b'"') => {
                            let field = match unescaped.take() {
                                None => Cow::Borrowed(&text[start..i]),
                                Some(mut s) => {
                                    s.push_str(&text[copied_to..i]);
                                    Cow::Owned(s)
                                }
                            };
                            i += 1;
                            break field;
                        }
                        Some(&b) => {
                            if b == b'\n' {
                                line += 1;
                            }
                            i += 1;
                        }
                    }
                };
                // Only spaces may follow the closing quote; a line ends at
                // `\n` or `\r\n`, as after an unquoted field (a lone `\r`
                // is not a line end: skipping the byte after it as a `\n`
                // split a character in two).
                while matches!(bytes.get(i), Some(b' ' | b'\t')) {
                    i += 1;
                }
                let line_end = match bytes.get(i) {
                    None | Some(b',' | b'\n') => true,
                    Some(b'\r') => bytes.get(i + 1) == Some(&b'\n'),
                    Some(_) => false,
                };
                if !line_end {
                    return Err((line, fields.len(), "a comma or line end after a quote"));
                }
                fields.push(field);
            } else {
                let start = i;
                while let Some(&b) = bytes.get(i) {
                    if b == b',' || b == b'\n' || (b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
                        break;
                    }
                    if b == b'"' {
                        return Err((line, fields.len(), "no quote inside an unquoted field"));
                    }
                    i += 1;
                }
                fields.push(Cow::Borrowed(&text[start..i]));
            }
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b'\r') => {
                    i += 2;
                    line += 1;
                    break;
                }
                Some(b'\n') => {
                    i += 1;
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        self.at = i;
        self.line = line;
        Ok(Some(start_line))
    }
}

fn csv_malformed((line, index, expected): CsvError) -> PosError {
    malformed(line, &format!("field {}", index + 1), expected, "")
}

/// Splits CSV text into records (RFC 4180 quoting): the line each starts
/// on and its fields.
#[cfg(test)]
fn csv_records(text: &str) -> Result<Vec<(u64, Vec<String>)>, CsvError> {
    let mut reader = CsvReader::new(text);
    let mut fields = Vec::new();
    let mut records = Vec::new();
    while let Some(line) = reader.next_record(&mut fields)? {
        records.push((line, fields.drain(..).map(Cow::into_owned).collect()));
    }
    Ok(records)
}

/// A value as the CSV reader sees it: trimmed, without one leading `` ` ``
/// or `'`.
fn clean(value: &str) -> &str {
    // By bytes: only ASCII is cut off, so every cut is a char boundary.
    let b = value.as_bytes();
    let (mut start, mut end) = (0, b.len());
    while start < end && matches!(b[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(b[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    if start < end && matches!(b[start], b'`' | b'\'') {
        start += 1;
    }
    &value[start..end]
}

/// [`Statement::from_csv`] a few lines at a time, so that a caller with a
/// clock (a page that must keep drawing) can stop between steps: the same
/// statement, or the same error, as the one-shot reader.
///
/// ```
/// # use posflow_core::money::Currency;
/// # use posflow_core::reconcile::{CsvStatementReader, Statement};
/// let text = "date,time,merchant_id,terminal_id,batch_no,trace_no,rrn,auth_code,card_no,type,amount,fee,status\n\
///             20261123,003000,898440350480001,10000001,000001,000001,,,,sale,100.00,,settled\n";
/// let mut reader = CsvStatementReader::new(text, Currency::Cny);
/// let statement = loop {
///     if let Some(statement) = reader.step(1)? {
///         break statement;
///     }
/// };
/// assert_eq!(statement, Statement::from_csv(text, Currency::Cny)?);
/// # Ok::<(), posflow_core::error::PosError>(())
/// ```
pub struct CsvStatementReader<'a> {
    reader: CsvReader<'a>,
    currency: Currency,
    state: CsvState<'a>,
}

/// Where a [`CsvStatementReader`] is.
enum CsvState<'a> {
    /// Before the header.
    Header,
    /// Reading lines.
    Lines {
        /// The header's names (an error names a field by them).
        header: Vec<Cow<'a, str>>,
        /// Column → position in the row.
        index: [usize; 13],
        /// What is read so far.
        statement: Statement,
        /// The current row, reused.
        row: Vec<Cow<'a, str>>,
    },
    /// A bad value was found. The rest of the text is still read for a
    /// break of the CSV rules, which is reported first, as when the whole
    /// file was split before any value was read.
    Failing(PosError),
    /// The statement or the error was returned.
    Finished,
}

impl<'a> CsvStatementReader<'a> {
    /// A reader of `text` (with or without a byte-order mark), in
    /// `currency`. Nothing is read until [`CsvStatementReader::step`].
    pub fn new(text: &'a str, currency: Currency) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        CsvStatementReader {
            reader: CsvReader::new(text),
            currency,
            state: CsvState::Header,
        }
    }

    /// Reads at most `budget` more records (the header counts as one), at
    /// least one. `Ok(None)`: not finished, step again. The statement, or
    /// the error [`Statement::from_csv`] gives, comes once; stepping after
    /// that is a bug.
    pub fn step(&mut self, budget: usize) -> Result<Option<Statement>, PosError> {
        let mut budget = budget.max(1);
        loop {
            match std::mem::replace(&mut self.state, CsvState::Finished) {
                CsvState::Header => match self.header() {
                    Ok(state) if budget == 1 => {
                        self.state = state;
                        return Ok(None);
                    }
                    Ok(state) => {
                        budget -= 1;
                        self.state = state;
                    }
                    Err(e) => self.state = CsvState::Failing(e),
                },
                CsvState::Lines {
                    header,
                    index,
                    mut statement,
                    mut row,
                } => match self.lines(&header, &index, &mut statement, &mut row, &mut budget) {
                    Ok(true) => return Ok(Some(statement)),
                    Ok(false) => {
                        self.state = CsvState::Lines {
                            header,
                            index,
                            statement,
                            row,
                        };
                        return Ok(None);
                    }
                    Err(e) => self.state = CsvState::Failing(e),
                },
                CsvState::Failing(e) => {
                    let mut fields = Vec::new();
                    while budget > 0 {
                        budget -= 1;
                        match self.reader.next_record(&mut fields) {
                            Ok(Some(_)) => {}
                            Ok(None) => return Err(e),
                            Err(csv) => return Err(csv_malformed(csv)),
                        }
                    }
                    self.state = CsvState::Failing(e);
                    return Ok(None);
                }
                CsvState::Finished => panic!("CsvStatementReader stepped after it finished"),
            }
        }
    }

    /// Reads the header: the state after it.
    fn header(&mut self) -> Result<CsvState<'a>, PosError> {
        let reader = &mut self.reader;
        let mut header = Vec::new();
        let Some(header_line) = reader.next_record(&mut header).map_err(csv_malformed)? else {
            return Err(malformed(1, "header", "a header row", "an empty file"));
        };
        // Column → position in the row.
        let mut positions: [Option<usize>; 13] = [None; 13];
        for (pos, name) in header.iter().enumerate() {
            if let Some(c) = Column::from_header(clean(name)) {
                let slot = &mut positions[c as usize];
                if slot.is_some() {
                    return Err(malformed(header_line, c.csv(), "one such column", "two"));
                }
                *slot = Some(pos);
            }
        }
        let mut index = [0usize; 13];
        for (k, c) in COLUMNS.iter().enumerate() {
            index[k] = positions[k].ok_or_else(|| {
                malformed(
                    header_line,
                    c.csv(),
                    &format!("a column named {} or {}", c.csv(), c.zh()),
                    "none",
                )
            })?;
        }
        let mut statement = Statement::new(self.currency);
        // A guess that saves regrowing the vector: lines of the format are
        // about 100 bytes.
        statement
            .lines
            .reserve((reader.text.len() - reader.at) / 100);
        let row = Vec::with_capacity(header.len());
        Ok(CsvState::Lines {
            header,
            index,
            statement,
            row,
        })
    }

    /// Reads lines into `statement` while `budget` lasts: whether the text
    /// is all read.
    fn lines(
        &mut self,
        header: &[Cow<'a, str>],
        index: &[usize; 13],
        statement: &mut Statement,
        row: &mut Vec<Cow<'a, str>>,
        budget: &mut usize,
    ) -> Result<bool, PosError> {
        while *budget > 0 {
            *budget -= 1;
            let Some(line) = self.reader.next_record(row).map_err(csv_malformed)? else {
                return Ok(true);
            };
            if row.len() != header.len() {
                let field = header.get(row.len()).map_or("(extra field)", |h| clean(h));
                return Err(malformed(
                    line,
                    field,
                    &format!("{} fields as in the header", header.len()),
                    &format!("{} fields", row.len()),
                ));
            }
            let values = index.map(|p| clean(&row[p]));
            let parsed = check_line(&LineFields { values }, line, self.currency, Format::Csv)?;
            statement.dates.insert(parsed.date);
            statement.lines.push(parsed);
        }
        Ok(false)
    }
}

impl Statement {
    /// An empty statement in `currency`.
    pub fn new(currency: Currency) -> Statement {
        Statement {
            currency,
            dates: SortedSet::new(),
            lines: Vec::new(),
        }
    }

    /// Reads the CSV format of the module docs, in `currency`: a
    /// [`CsvStatementReader`] run to the end in one step.
    pub fn from_csv(text: &str, currency: Currency) -> Result<Statement, PosError> {
        let mut reader = CsvStatementReader::new(text, currency);
        crate::in_one_go(|budget| reader.step(budget))
    }

    /// Reads the JSON form:
    ///
    /// ```json
    /// { "currency": "CNY", "dates": ["2026-11-23"],
    ///   "lines": [{ "date": "2026-11-23", "time": "00:30:00",
    ///               "merchantId": "898440350480001", "terminalId": "10000001",
    ///               "batchNo": "000001", "traceNo": "000001",
    ///               "rrn": "000000000001", "authCode": "123456",
    ///               "card": "622202*********3445", "type": "sale",
    ///               "amount": "100.00", "fee": "0.38", "status": "settled" }] }
    /// ```
    ///
    /// `dates`, `rrn`, `authCode`, `card` and `fee` may be left out; values
    /// are as in the CSV; amounts are strings, never numbers. An unreadable
    /// text is `STATEMENT_MALFORMED` at line 0 with serde's position in
    /// `found`; a bad value names its entry of `lines` (1-based) and field.
    pub fn from_json(text: &str) -> Result<Statement, PosError> {
        let raw: RawStatement = serde_json::from_str(text)
            .map_err(|e| malformed(0, "json", "a statement object", &e.to_string()))?;
        let currency = Currency::parse(&raw.currency)
            .map_err(|_| malformed(0, "currency", "an ISO 4217 code", &raw.currency))?;
        let mut statement = Statement::new(currency);
        for d in &raw.dates {
            let date = parse_date(d).ok_or_else(|| malformed(0, "dates", "YYYY-MM-DD", d))?;
            statement.dates.insert(date);
        }
        for (i, r) in raw.lines.iter().enumerate() {
            let values = [
                r.date.as_str(),
                &r.time,
                &r.merchant_id,
                &r.terminal_id,
                &r.batch_no,
                &r.trace_no,
                &r.rrn,
                &r.auth_code,
                &r.card,
                &r.kind,
                &r.amount,
                &r.fee,
                &r.status,
            ];
            let line = check_line(&LineFields { values }, i as u64 + 1, currency, Format::Json)?;
            statement.dates.insert(line.date);
            statement.lines.push(line);
        }
        Ok(statement)
    }

    fn raw_lines(&self) -> impl Iterator<Item = RawLine> + '_ {
        self.lines.iter().map(|l| RawLine {
            date: l.date.to_string(),
            time: l.time.to_string(),
            merchant_id: l.merchant_id.clone(),
            terminal_id: l.terminal_id.clone(),
            batch_no: l.batch_no.to_string(),
            trace_no: l.trace_no.to_string(),
            rrn: l.rrn.clone().unwrap_or_default(),
            auth_code: l.auth_code.clone().unwrap_or_default(),
            card: l.card.clone().unwrap_or_default(),
            kind: l.kind.as_str().to_owned(),
            amount: l.amount.to_string(),
            fee: l.fee.to_string(),
            status: l.status.as_str().to_owned(),
        })
    }

    /// The JSON form [`Statement::from_json`] reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("strings serialize")
    }

    /// The CSV form [`Statement::from_csv`] reads, with the Chinese header
    /// and `YYYYMMDD` / `HHMMSS` as acquirers write them.
    pub fn to_csv(&self) -> String {
        let mut out = COLUMNS.map(|c| c.zh()).join(",");
        out.push('\n');
        for r in self.raw_lines() {
            let date = r.date.replace('-', "");
            let time = r.time.replace(':', "");
            let status = LineStatus::parse(&r.status).map_or("", |s| s.zh());
            let fields = [
                date.as_str(),
                &time,
                &r.merchant_id,
                &r.terminal_id,
                &r.batch_no,
                &r.trace_no,
                &r.rrn,
                &r.auth_code,
                &r.card,
                &r.kind,
                &r.amount,
                &r.fee,
                status,
            ];
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if f.contains([',', '"', '\n', '\r']) {
                    out.push('"');
                    out.push_str(&f.replace('"', "\"\""));
                    out.push('"');
                } else {
                    out.push_str(f);
                }
            }
            out.push('\n');
        }
        out
    }
}

impl Serialize for Statement {
    /// The JSON form of [`Statement::from_json`] (camelCase, amounts as
    /// decimal strings).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawStatement {
            currency: self.currency.code().to_owned(),
            dates: self.dates.iter().map(|d| d.to_string()).collect(),
            lines: self.raw_lines().collect(),
        }
        .serialize(serializer)
    }
}

/// The statement the acquirer would send for `postings` (the simulated
/// acquirer's [`crate::acquirer::SimulatedAcquirer::ledger`]): every
/// financial posting is a line, dated in local time at `utc_offset_minutes`.
/// Status: a reversed posting is `reversed`, a returned one `returned`, one
/// answered other than `00` `declined`, the rest `settled`. Fees are zero and
/// the card is left empty (postings do not carry it).
pub fn statement_from_ledger<'a>(
    postings: impl IntoIterator<Item = &'a Posting>,
    merchant_id: &str,
    currency: Currency,
    utc_offset_minutes: i32,
) -> Result<Statement, PosError> {
    let mut file = AcquirerFile::new(merchant_id, currency, utc_offset_minutes);
    for p in postings {
        let status = if p.code != "00" {
            LineStatus::Declined
        } else if p.reversed {
            LineStatus::Reversed
        } else if p.returned {
            LineStatus::Returned
        } else {
            LineStatus::Settled
        };
        file.push(AcquirerLine {
            terminal_id: &p.terminal_id,
            batch_no: p.batch_no,
            trace_no: p.trace_no,
            message: p.message,
            amount: p.amount,
            rrn: &p.rrn,
            auth_code: &p.auth_code,
            card: p.card.as_ref().map(|c| c.masked_pan.clone()),
            status,
            at: p.at,
        })?;
    }
    Ok(file.statement)
}

/// One line as the simulated acquirer knows it, whichever of its views it
/// comes from.
struct AcquirerLine<'a> {
    terminal_id: &'a str,
    batch_no: BatchNo,
    trace_no: TraceNo,
    message: crate::host::MessageType,
    amount: Option<Money>,
    rrn: &'a Option<String>,
    auth_code: &'a Option<String>,
    card: Option<String>,
    status: LineStatus,
    at: Timestamp,
}

/// A statement being written from the simulated acquirer's lines.
struct AcquirerFile<'a> {
    statement: Statement,
    merchant_id: &'a str,
    utc_offset_minutes: i32,
    read: u64,
}

impl<'a> AcquirerFile<'a> {
    fn new(merchant_id: &'a str, currency: Currency, utc_offset_minutes: i32) -> Self {
        AcquirerFile {
            statement: Statement::new(currency),
            merchant_id,
            utc_offset_minutes,
            read: 0,
        }
    }

    /// Adds a financial line; reversals, queries, settlements and uploads
    /// are not statement lines.
    fn push(&mut self, l: AcquirerLine<'_>) -> Result<(), PosError> {
        self.read += 1;
        let line = self.read;
        let Some(kind) = Kind::ALL
            .into_iter()
            .find(|k| message_type(*k) == l.message)
        else {
            return Ok(());
        };
        let currency = self.statement.currency;
        let amount = l
            .amount
            .ok_or_else(|| malformed(line, "amount", "an amount", "none"))?;
        if amount.currency() != currency {
            return Err(PosError::CurrencyMismatch {
                expected: currency,
                found: amount.currency(),
            });
        }
        let (hour, minute, second) = l.at.local_time(self.utc_offset_minutes);
        let date = l.at.local_date(self.utc_offset_minutes);
        self.statement.dates.insert(date);
        self.statement.lines.push(StatementLine {
            line,
            date,
            time: LocalTime {
                hour,
                minute,
                second,
            },
            merchant_id: self.merchant_id.to_owned(),
            terminal_id: l.terminal_id.to_owned(),
            batch_no: l.batch_no,
            trace_no: l.trace_no,
            rrn: l.rrn.clone(),
            auth_code: l.auth_code.clone(),
            card: l.card,
            kind,
            amount,
            fee: SignedMoney::zero(currency),
            status: l.status,
        });
        Ok(())
    }
}

/// The acquirer's daily file in this module's format, from the simulated
/// acquirer's own statement of one terminal: its returns (a card cancelled
/// after the sale, a batch never uploaded) show as `returned` lines. The
/// demo's "fetch the acquirer's statement" and the end of every simulated
/// day use it.
pub fn statement_from_acquirer(
    file: &crate::acquirer::Statement,
    merchant_id: &str,
    currency: Currency,
    utc_offset_minutes: i32,
) -> Result<Statement, PosError> {
    use crate::acquirer::LineStatus as Acq;
    let mut out = AcquirerFile::new(merchant_id, currency, utc_offset_minutes);
    for l in &file.lines {
        out.push(AcquirerLine {
            terminal_id: &file.terminal_id,
            batch_no: l.batch_no,
            trace_no: l.trace_no,
            message: l.message,
            amount: l.amount,
            rrn: &l.rrn,
            auth_code: &l.auth_code,
            card: l.masked_pan.clone(),
            status: match l.status {
                Acq::Approved => LineStatus::Settled,
                Acq::Declined { .. } => LineStatus::Declined,
                Acq::Reversed => LineStatus::Reversed,
                Acq::Returned { .. } => LineStatus::Returned,
            },
            at: l.at,
        })?;
    }
    Ok(out.statement)
}

/// Where a record or line landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Both sides agree.
    Matched,
    /// Approved on the terminal, not on the statement.
    TerminalOnly,
    /// On the statement with money moved, not approved on the terminal.
    AcquirerOnly,
    /// Both have it, with different amounts.
    AmountMismatch,
    /// Approved on the terminal; returned, reversed or declined at the
    /// acquirer.
    ReturnedOrReversed,
    /// A refund the acquirer credited to the card.
    RefundCredited,
    /// A refund whose money came back.
    RefundReturned,
    /// A refund the acquirer is still processing.
    RefundPending,
    /// The terminal does not know the outcome yet.
    Unresolved,
}

// `Category::ALL` lists the categories in declaration order, so a
// category's discriminant is its row in the summary.
const _: () = {
    let mut i = 0;
    while i < Category::ALL.len() {
        assert!(Category::ALL[i] as usize == i);
        i += 1;
    }
};

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 9] = [
        Category::Matched,
        Category::TerminalOnly,
        Category::AcquirerOnly,
        Category::AmountMismatch,
        Category::ReturnedOrReversed,
        Category::RefundCredited,
        Category::RefundReturned,
        Category::RefundPending,
        Category::Unresolved,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Matched => "matched",
            Category::TerminalOnly => "terminal_only",
            Category::AcquirerOnly => "acquirer_only",
            Category::AmountMismatch => "amount_mismatch",
            Category::ReturnedOrReversed => "returned_or_reversed",
            Category::RefundCredited => "refund_credited",
            Category::RefundReturned => "refund_returned",
            Category::RefundPending => "refund_pending",
            Category::Unresolved => "unresolved",
        }
    }

    /// Chinese and English titles for a report.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Category::Matched => ("已核对一致", "Matched"),
            Category::TerminalOnly => ("终端有、收单无", "On the terminal only"),
            Category::AcquirerOnly => ("收单有、终端无", "At the acquirer only"),
            Category::AmountMismatch => ("金额不符", "Amount mismatch"),
            Category::ReturnedOrReversed => (
                "终端成功、收单退回或冲正",
                "Approved here, returned or reversed at the acquirer",
            ),
            Category::RefundCredited => ("退款已入账", "Refund credited"),
            Category::RefundReturned => ("退款被退回", "Refund returned"),
            Category::RefundPending => ("退款处理中", "Refund processing"),
            Category::Unresolved => ("终端结果未明", "Outcome unknown on the terminal"),
        }
    }

    /// Whether it is a difference no one has explained: the day balances
    /// only when there is none.
    pub fn is_unexplained(self) -> bool {
        match self {
            Category::Matched
            | Category::RefundCredited
            | Category::RefundReturned
            | Category::RefundPending => false,
            Category::TerminalOnly
            | Category::AcquirerOnly
            | Category::AmountMismatch
            | Category::ReturnedOrReversed
            | Category::Unresolved => true,
        }
    }
}

/// Why an item is in its category; decides the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// Approved on both sides.
    Agreed,
    /// Neither side moved money (declined or reversed on both).
    NothingMoved,
    /// The statement has no line for an approved record.
    NotOnStatement,
    /// An offline completion the host has not been told of yet.
    AdviceNotSent,
    /// The terminal has no record of the line.
    NotOnTerminal,
    /// The terminal recorded a failure or a reversal; the acquirer moved money.
    NotApprovedOnTerminal,
    /// The amounts differ.
    AmountDiffers,
    /// The money came back.
    Returned,
    /// The acquirer reversed it.
    Reversed,
    /// The acquirer declined it.
    Declined,
    /// A refund credited.
    RefundCredited,
    /// A refund returned.
    RefundReturned,
    /// A refund processing.
    RefundPending,
    /// In doubt here; the acquirer moved money.
    InDoubtAcquirerHasIt,
    /// In doubt here; the acquirer moved none (or has no line).
    InDoubtAcquirerHasNot,
}

/// A next step, in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NextStep {
    /// 中文.
    pub zh: &'static str,
    /// English.
    pub en: &'static str,
}

impl Finding {
    /// Every finding.
    pub const ALL: [Finding; 15] = [
        Finding::Agreed,
        Finding::NothingMoved,
        Finding::NotOnStatement,
        Finding::AdviceNotSent,
        Finding::NotOnTerminal,
        Finding::NotApprovedOnTerminal,
        Finding::AmountDiffers,
        Finding::Returned,
        Finding::Reversed,
        Finding::Declined,
        Finding::RefundCredited,
        Finding::RefundReturned,
        Finding::RefundPending,
        Finding::InDoubtAcquirerHasIt,
        Finding::InDoubtAcquirerHasNot,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Agreed => "agreed",
            Finding::NothingMoved => "nothing_moved",
            Finding::NotOnStatement => "not_on_statement",
            Finding::AdviceNotSent => "advice_not_sent",
            Finding::NotOnTerminal => "not_on_terminal",
            Finding::NotApprovedOnTerminal => "not_approved_on_terminal",
            Finding::AmountDiffers => "amount_differs",
            Finding::Returned => "returned",
            Finding::Reversed => "reversed",
            Finding::Declined => "declined",
            Finding::RefundCredited => "refund_credited",
            Finding::RefundReturned => "refund_returned",
            Finding::RefundPending => "refund_pending",
            Finding::InDoubtAcquirerHasIt => "in_doubt_acquirer_has_it",
            Finding::InDoubtAcquirerHasNot => "in_doubt_acquirer_has_not",
        }
    }

    /// What to do about it.
    pub fn next_step(self) -> NextStep {
        let (zh, en) = match self {
            Finding::Agreed | Finding::NothingMoved => ("无需处理", "Nothing to do"),
            Finding::NotOnStatement => (
                "对账单无此笔：确认批上送已完成并向收单机构查询；若资金未入账，请联系持卡人另行收款",
                "Not on the statement: check that the batch upload finished and ask the acquirer; \
                 if the money never arrived, collect it from the cardholder again",
            ),
            Finding::AdviceNotSent => (
                "离线交易尚未上送：发送离线通知后重新对账",
                "The offline completion was never sent: send the advice, then reconcile again",
            ),
            Finding::NotOnTerminal => (
                "终端无此笔：核实是否为其他终端或手工交易；如非本店交易，联系收单机构调账",
                "Not in this terminal's journal: check other terminals and manual entries; \
                 if it is not this shop's, ask the acquirer to correct it",
            ),
            Finding::NotApprovedOnTerminal => (
                "终端记为失败或已冲正而收单已入账：联系收单机构冲正或退款，切勿重复收款",
                "Failed or reversed here but cleared at the acquirer: ask the acquirer to reverse \
                 or refund it; do not charge the cardholder again",
            ),
            Finding::AmountDiffers => (
                "金额不符：核对签购单金额，联系收单机构调账",
                "Amounts differ: check the voucher and ask the acquirer to correct it",
            ),
            Finding::Returned => (
                "资金已被退回：联系持卡人以其他方式收款",
                "The money came back: collect the payment from the cardholder another way",
            ),
            Finding::Reversed => (
                "收单机构已冲正，交易实际未成功：联系持卡人重新收款",
                "The acquirer reversed it, so it did not go through: collect the payment again",
            ),
            Finding::Declined => (
                "收单机构记为失败：向收单机构核实，必要时重新收款",
                "The acquirer has it as declined: confirm with the acquirer and collect again \
                 if needed",
            ),
            Finding::RefundCredited => (
                "退款已入账：退款状态改为已入账",
                "Refund credited: mark the refund credited",
            ),
            Finding::RefundReturned => (
                "退款被退回：状态改为已退回，改用其他退款路径重新办理（需主管及复核）",
                "Refund returned: mark it returned and refund again by a fallback route \
                 (supervisor and second person)",
            ),
            Finding::RefundPending => (
                "退款处理中：等待收单机构入账，逾期再查询",
                "Refund processing: wait for the acquirer; query it if it becomes overdue",
            ),
            Finding::InDoubtAcquirerHasIt => (
                "终端结果未明，收单机构已入账：查询原交易，或由主管按对账单确认为成功",
                "Unknown here, cleared at the acquirer: query it, or have a supervisor resolve it \
                 as approved with the statement's RRN",
            ),
            Finding::InDoubtAcquirerHasNot => (
                "终端结果未明，收单机构未入账：发送冲正，或由主管确认为已冲正",
                "Unknown here, not cleared at the acquirer: send the reversal, or have a \
                 supervisor resolve it as reversed",
            ),
        };
        NextStep { zh, en }
    }
}

/// How a record found its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// Terminal id + batch number + trace number: unique within a batch,
    /// whatever day the acquirer booked it (an offline advice sent days
    /// later, say).
    BatchAndTrace,
    /// Terminal id + trace number + date.
    TraceAndDate,
    /// Retrieval reference number.
    Rrn,
}

impl MatchedBy {
    /// Every way.
    pub const ALL: [MatchedBy; 3] = [
        MatchedBy::BatchAndTrace,
        MatchedBy::TraceAndDate,
        MatchedBy::Rrn,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::BatchAndTrace => "batch_and_trace",
            MatchedBy::TraceAndDate => "trace_and_date",
            MatchedBy::Rrn => "rrn",
        }
    }
}

/// One finding of the reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconItem {
    /// Its category.
    pub category: Category,
    /// Why.
    pub finding: Finding,
    /// The terminal record, if there is one.
    pub txn: Option<TxnId>,
    /// The transaction type (the record's, else the line's).
    pub kind: Kind,
    /// Batch.
    pub batch_no: BatchNo,
    /// Trace number.
    pub trace_no: TraceNo,
    /// RRN (the record's, else the line's).
    pub rrn: Option<String>,
    /// The statement line, if there is one ([`StatementLine::line`]).
    pub line: Option<u64>,
    /// The amount on the terminal.
    pub terminal_amount: Option<Money>,
    /// The amount on the statement.
    pub acquirer_amount: Option<Money>,
    /// The statement's status.
    pub acquirer_status: Option<LineStatus>,
    /// How the two were matched.
    pub matched_by: Option<MatchedBy>,
    /// What to do.
    pub next_step: NextStep,
}

/// Count and amounts of one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryTotal {
    /// The category.
    pub category: Category,
    /// Items.
    pub count: u32,
    /// Sum of the terminal amounts.
    pub terminal_amount: Money,
    /// Sum of the statement amounts.
    pub acquirer_amount: Money,
}

/// The summary of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconSummary {
    /// Per category, in [`Category::ALL`] order.
    pub per_category: Vec<CategoryTotal>,
    /// Items no one has explained.
    pub unexplained: u32,
    /// Whether the day balances: no unexplained item.
    pub balanced: bool,
    /// Net of the terminal's approved records reconciled (sales and
    /// completions less voids and refunds).
    pub terminal_net: SignedMoney,
    /// Net of the statement's settled lines for this terminal.
    pub acquirer_net: SignedMoney,
    /// The acquirer's fees on this terminal's lines.
    pub fees: SignedMoney,
    /// Lines of other terminals or merchants, left alone.
    pub other_terminal_lines: u32,
    /// This terminal's lines with no record here and no money moved
    /// (reversed, returned or declined): nothing to do.
    pub lines_without_effect: u32,
}

/// What [`reconcile`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconReport {
    /// Merchant id.
    pub merchant_id: String,
    /// Terminal id.
    pub terminal_id: String,
    /// The dates reconciled, `YYYY-MM-DD`.
    pub dates: Vec<String>,
    /// Every finding: terminal records in journal order, then lines found
    /// only at the acquirer in statement order.
    pub items: Vec<ReconItem>,
    /// Totals.
    pub summary: ReconSummary,
    /// Refunds the acquirer confirmed credited: their status moves to
    /// `credited`.
    pub credited: Vec<TxnId>,
    /// Refunds whose money came back: their status moves to `returned`.
    pub returned: Vec<TxnId>,
    /// When it was made.
    pub at: Timestamp,
}

/// The terminal's side of a record, for classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Approved,
    NotDone,
    Unknown,
}

fn outcome(t: &Transaction) -> Outcome {
    match t.state {
        TxnState::Approved { .. } => Outcome::Approved,
        TxnState::Declined { .. } | TxnState::Reversed { .. } => Outcome::NotDone,
        TxnState::Sent | TxnState::InDoubt { .. } | TxnState::ManualReview { .. } => {
            Outcome::Unknown
        }
    }
}

fn same_kind(a: Kind, b: Kind) -> bool {
    let completion = |k| matches!(k, Kind::Completion | Kind::CompletionAdvice);
    a == b || (completion(a) && completion(b))
}

fn classify(t: &Transaction, l: &StatementLine) -> (Category, Finding) {
    match outcome(t) {
        Outcome::Unknown if l.status.money_moved() => {
            (Category::Unresolved, Finding::InDoubtAcquirerHasIt)
        }
        Outcome::Unknown => (Category::Unresolved, Finding::InDoubtAcquirerHasNot),
        Outcome::NotDone if l.status.money_moved() => {
            (Category::AcquirerOnly, Finding::NotApprovedOnTerminal)
        }
        Outcome::NotDone => (Category::Matched, Finding::NothingMoved),
        Outcome::Approved if t.request.amount != l.amount => {
            (Category::AmountMismatch, Finding::AmountDiffers)
        }
        Outcome::Approved => {
            let refund = t.request.kind == Kind::Refund;
            match l.status {
                LineStatus::Settled if refund => {
                    (Category::RefundCredited, Finding::RefundCredited)
                }
                LineStatus::Returned if refund => {
                    (Category::RefundReturned, Finding::RefundReturned)
                }
                LineStatus::Pending if refund => (Category::RefundPending, Finding::RefundPending),
                LineStatus::Settled | LineStatus::Pending => (Category::Matched, Finding::Agreed),
                LineStatus::Returned => (Category::ReturnedOrReversed, Finding::Returned),
                LineStatus::Reversed => (Category::ReturnedOrReversed, Finding::Reversed),
                LineStatus::Declined => (Category::ReturnedOrReversed, Finding::Declined),
            }
        }
    }
}

fn missing(t: &Transaction) -> Option<(Category, Finding)> {
    match outcome(t) {
        Outcome::Approved if t.advice_pending => {
            Some((Category::TerminalOnly, Finding::AdviceNotSent))
        }
        Outcome::Approved => Some((Category::TerminalOnly, Finding::NotOnStatement)),
        Outcome::NotDone => None,
        Outcome::Unknown => Some((Category::Unresolved, Finding::InDoubtAcquirerHasNot)),
    }
}

fn txn_rrn(t: &Transaction) -> Option<&str> {
    match &t.state {
        TxnState::Approved { rrn, .. } => rrn.as_deref(),
        TxnState::Sent
        | TxnState::InDoubt { .. }
        | TxnState::ManualReview { .. }
        | TxnState::Declined { .. }
        | TxnState::Reversed { .. } => None,
    }
}

/// Statement lines sorted by a key, each key's lines in file order: a
/// binary search finds them. Sorting rather than hashing: no per-key
/// allocation, and no input slows it beyond `n log n`.
///
/// It is sorted a slice at a time ([`LineIndex::sort`]): a file already in
/// key order, as acquirers mostly write them, is only checked; another is
/// sorted in runs of [`RUN`] entries, which are then merged pairwise. A
/// 100,000-line file in no order took ~13 ms to sort in one piece in the
/// browser.
struct LineIndex<K> {
    /// (key, line) pairs: distinct, so any sort gives the same order, and
    /// the lines of a key stay in file order.
    entries: Vec<(K, u32)>,
    /// The output of the merge pass under way.
    merged: Vec<(K, u32)>,
    sort: SortPhase,
}

/// Where the sort of a [`LineIndex`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortPhase {
    /// `entries[..=at]` are in order; the rest is not looked at yet.
    Check { at: usize },
    /// Sorting runs of [`RUN`] entries in place, from `at`.
    Runs { at: usize },
    /// Merging the sorted runs of `width` entries pairwise into `merged`:
    /// the pair at `lo`, its left run's next entry `i` and its right run's
    /// `j`.
    Merge {
        width: usize,
        lo: usize,
        i: usize,
        j: usize,
    },
    /// Sorted: ready to search.
    Sorted,
}

/// Entries sorted in one piece before the runs are merged.
const RUN: usize = 512;

impl<K: Ord + Copy> LineIndex<K> {
    /// An index of `lines`, not sorted yet.
    fn new(lines: impl Iterator<Item = (K, usize)>) -> Self {
        let entries: Vec<(K, u32)> = lines
            .map(|(k, i)| (k, u32::try_from(i).expect("fewer than 2^32 lines")))
            .collect();
        LineIndex {
            entries,
            merged: Vec::new(),
            sort: SortPhase::Check { at: 0 },
        }
    }

    fn is_sorted(&self) -> bool {
        self.sort == SortPhase::Sorted
    }

    /// Sorts on while `work` lasts: whether it is sorted.
    fn sort(&mut self, work: &mut u64) -> bool {
        let n = self.entries.len();
        loop {
            match self.sort {
                SortPhase::Sorted => return true,
                _ if *work == 0 => return false,
                SortPhase::Check { mut at } => {
                    let v = &self.entries;
                    while at + 1 < n && *work > 0 && v[at] < v[at + 1] {
                        at += 1;
                        *work = work.saturating_sub(cost::SORT_CHECK);
                    }
                    self.sort = if at + 1 >= n {
                        SortPhase::Sorted
                    } else if v[at] > v[at + 1] {
                        SortPhase::Runs { at: 0 }
                    } else {
                        SortPhase::Check { at }
                    };
                }
                SortPhase::Runs { mut at } => {
                    while at < n && *work > 0 {
                        let end = (at + RUN).min(n);
                        self.entries[at..end].sort_unstable();
                        *work = work.saturating_sub(cost::SORT_RUN * (end - at) as u64);
                        at = end;
                    }
                    self.sort = if at < n {
                        SortPhase::Runs { at }
                    } else {
                        Self::merge_from(RUN, n)
                    };
                    if matches!(self.sort, SortPhase::Merge { .. }) {
                        self.merged.reserve_exact(n);
                    }
                }
                SortPhase::Merge {
                    width,
                    mut lo,
                    mut i,
                    mut j,
                } => {
                    let (v, out) = (&self.entries, &mut self.merged);
                    while lo < n {
                        let mid = (lo + width).min(n);
                        let hi = (lo + 2 * width).min(n);
                        while i < mid && j < hi {
                            if *work == 0 {
                                self.sort = SortPhase::Merge { width, lo, i, j };
                                return false;
                            }
                            if v[j] < v[i] {
                                out.push(v[j]);
                                j += 1;
                            } else {
                                out.push(v[i]);
                                i += 1;
                            }
                            *work = work.saturating_sub(cost::SORT_MERGE);
                        }
                        // What is left of one run follows as it is: a copy.
                        out.extend_from_slice(&v[i..mid]);
                        out.extend_from_slice(&v[j..hi]);
                        let copied = (mid - i + hi - j) as u64;
                        *work = work.saturating_sub(cost::SORT_MERGE * copied / 8);
                        lo = hi;
                        i = hi;
                        j = (hi + width).min(n);
                    }
                    std::mem::swap(&mut self.entries, &mut self.merged);
                    self.merged.clear();
                    self.sort = Self::merge_from(2 * width, n);
                    if self.sort == SortPhase::Sorted {
                        self.merged = Vec::new();
                    }
                }
            }
        }
    }

    /// The first merge pass of runs of `width` out of `n` entries, or
    /// sorted when one run holds them all.
    fn merge_from(width: usize, n: usize) -> SortPhase {
        if width >= n {
            SortPhase::Sorted
        } else {
            SortPhase::Merge {
                width,
                lo: 0,
                i: 0,
                j: width,
            }
        }
    }

    /// The lines of `key`, in file order.
    fn lines<'s>(&'s self, key: &K) -> impl Iterator<Item = usize> + 's {
        debug_assert!(self.is_sorted());
        let from = self.entries.partition_point(|(k, _)| k < key);
        let rest = &self.entries[from..];
        let len = rest.partition_point(|(k, _)| k == key);
        rest[..len].iter().map(|&(_, i)| i as usize)
    }
}

/// The key of all three indexes: a number, or the RRN's text (number 0).
/// One key type, so that the sort and the search are compiled once: a
/// key type of each index's own compiled them three times, 2.2 KB gzipped
/// more.
type Key<'s> = (u64, &'s str);

/// The index by batch and trace number: both under 2^20.
fn batch_key(batch: BatchNo, trace: TraceNo) -> Key<'static> {
    ((u64::from(batch.get()) << 32) | u64::from(trace.get()), "")
}

/// The index by trace number and date: the trace number under 2^20, the
/// date's day number (under 2^40 in size for any `i32` year) offset into
/// the low 44 bits.
fn trace_key(trace: TraceNo, date: Date) -> Key<'static> {
    let day = (date.to_days() + (1 << 43)) as u64;
    ((u64::from(trace.get()) << 44) | day, "")
}

/// The first of `candidates` not used yet and of a type compatible with
/// `kind`.
fn first_unused(
    mut candidates: impl Iterator<Item = usize>,
    used: &[bool],
    lines: &[StatementLine],
    kind: Kind,
) -> Option<usize> {
    candidates.find(|&i| !used[i] && same_kind(lines[i].kind, kind))
}

/// Reconciles the terminal's journal with the acquirer's statement.
///
/// Each terminal record looks for an unused line of this terminal with a
/// compatible type: first by batch and trace number, then by trace number
/// and local date (of the record's request, at
/// `policy.utc_offset_minutes`), then by RRN. Records of the statement's
/// dates that find none are "terminal only" (or unresolved); records of
/// other dates that find none are left out. Lines of this terminal left
/// over are "acquirer only" when money moved. Runs in (records + lines) ×
/// log(lines): sorted indexes searched by bisection, no scan per record.
///
/// A [`Reconciler`] run to the end in one step.
///
/// Errors: `CURRENCY_MISMATCH` when the statement is in another currency;
/// `STATEMENT_NOT_FOR_TERMINAL` when it has lines but none of this merchant.
pub fn reconcile(
    term: &Terminal,
    statement: &Statement,
    now: Timestamp,
) -> Result<ReconReport, PosError> {
    let mut reconciler = Reconciler::new(statement, now);
    crate::in_one_go(|budget| reconciler.step(term, budget))
}

/// What one unit of a [`Reconciler::step`]'s budget buys, in each stage:
/// about the cost of matching one record, so that a budget measured on
/// one stage holds for the next (a step that meets a dearer stage than its
/// weight says runs long, and the binding's next budget is smaller).
/// Measured in the browser (wasm, V8) at 100,000 lines: a record ~0.6 µs,
/// marking a line ~0.045 µs, summing a line ~0.075 µs, adding an item to
/// the summary ~0.065 µs, sorting an index entry into its run ~0.11 µs,
/// merging one ~0.03 µs (lines in no order).
mod cost {
    /// Work units in one unit of budget.
    pub const UNIT: u64 = 64;
    /// Matching and classifying one terminal record.
    pub const RECORD: u64 = 64;
    /// Sorting out one line as this terminal's or another's.
    pub const MARK: u64 = 5;
    /// Summing one of this terminal's lines, and finding it unused.
    pub const LINE: u64 = 8;
    /// Adding one item to the summary.
    pub const TOTAL: u64 = 7;
    /// Taking one line into an index.
    pub const INDEX: u64 = 4;
    /// Checking that one entry of an index follows the one before.
    pub const SORT_CHECK: u64 = 1;
    /// Sorting one entry into its run.
    pub const SORT_RUN: u64 = 12;
    /// Merging one entry (copying one: an eighth of that).
    pub const SORT_MERGE: u64 = 3;
}

/// [`reconcile`] a slice at a time, so that a caller with a clock (a page
/// that must keep drawing) can stop between steps: the same report, or the
/// same error, as the one-shot call, whatever the budgets.
///
/// It holds no borrow of the terminal between steps, only where it is; the
/// caller must hand each step the same terminal, unchanged since the first
/// (the binding holds its command queue meanwhile).
///
/// ```text
///  check ─→ mark lines ─→ index by batch ─→ records ─→ lines ─→ totals ─→ report
///  (currency, merchant)                       │    ↑
///                                             ↓    │ (the record again)
///                                  index by trace or RRN, the first time
///                                  a record needs it
/// ```
pub struct Reconciler<'s> {
    statement: &'s Statement,
    now: Timestamp,
    stage: Stage,
    /// Which lines are this terminal's.
    ours: Vec<bool>,
    ours_count: usize,
    other_terminal_lines: u32,
    by_batch: Option<LineIndex<Key<'s>>>,
    by_trace: Option<LineIndex<Key<'s>>>,
    by_rrn: Option<LineIndex<Key<'s>>>,
    /// Which lines a record has taken.
    used: Vec<bool>,
    items: Vec<ReconItem>,
    credited: Vec<TxnId>,
    returned: Vec<TxnId>,
    terminal_net: SignedMoney,
    acquirer_net: SignedMoney,
    fees: SignedMoney,
    lines_without_effect: u32,
    per_category: Vec<CategoryTotal>,
    unexplained: u32,
}

/// The indexes of a [`Reconciler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// Batch and trace number.
    Batch,
    /// Trace number and date.
    Trace,
    /// RRN.
    Rrn,
}

/// Where a [`Reconciler`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The currency and the merchant, not checked yet.
    Check,
    /// Sorting lines into this terminal's and others', from `at`.
    Mark { at: usize },
    /// Building the index `which`; then matching the records from `resume`
    /// on.
    Index { which: Which, resume: TxnId },
    /// Matching the terminal's records, from `next` on.
    Records { next: TxnId },
    /// Summing this terminal's lines and finding the unused ones, from `at`.
    Lines { at: usize },
    /// Adding the items into the summary, from `at`.
    Totals { at: usize },
    /// The report or the error was returned.
    Finished,
}

impl<'s> Reconciler<'s> {
    /// A reconciliation of `statement`, made at `now`. Nothing is done
    /// until [`Reconciler::step`].
    pub fn new(statement: &'s Statement, now: Timestamp) -> Self {
        let zero = SignedMoney::zero(statement.currency);
        Reconciler {
            statement,
            now,
            stage: Stage::Check,
            ours: Vec::new(),
            ours_count: 0,
            other_terminal_lines: 0,
            by_batch: None,
            by_trace: None,
            by_rrn: None,
            used: Vec::new(),
            items: Vec::new(),
            credited: Vec::new(),
            returned: Vec::new(),
            terminal_net: zero,
            acquirer_net: zero,
            fees: zero,
            lines_without_effect: 0,
            per_category: Vec::new(),
            unexplained: 0,
        }
    }

    /// Does about `budget` records' worth of work (at least a little).
    /// `Ok(None)`: not finished, step again. The report, or the error
    /// [`reconcile`] gives, comes once; stepping after that is a bug.
    pub fn step(
        &mut self,
        term: &Terminal,
        budget: usize,
    ) -> Result<Option<ReconReport>, PosError> {
        let mut work = (budget.max(1) as u64).saturating_mul(cost::UNIT);
        let stepped = self.run(term, &mut work);
        if !matches!(stepped, Ok(None)) {
            self.stage = Stage::Finished;
        }
        stepped
    }

    fn run(&mut self, term: &Terminal, work: &mut u64) -> Result<Option<ReconReport>, PosError> {
        let statement = self.statement;
        let lines = &statement.lines;
        let cfg = term.config();
        loop {
            if *work == 0 {
                return Ok(None);
            }
            match self.stage {
                Stage::Check => {
                    self.check(term)?;
                    self.ours = vec![false; lines.len()];
                    self.used = vec![false; lines.len()];
                    self.stage = Stage::Mark { at: 0 };
                }
                Stage::Mark { mut at } => {
                    while at < lines.len() && *work > 0 {
                        let l = &lines[at];
                        if l.merchant_id != cfg.merchant_id || l.terminal_id != cfg.terminal_id {
                            self.other_terminal_lines += 1;
                        } else {
                            self.ours[at] = true;
                            self.ours_count += 1;
                        }
                        at += 1;
                        *work = work.saturating_sub(cost::MARK);
                    }
                    self.stage = if at < lines.len() {
                        Stage::Mark { at }
                    } else {
                        self.items =
                            Vec::with_capacity(term.transactions().size_hint().0 + self.ours_count);
                        // Most records find their line by batch and trace;
                        // the other two indexes are built the first time
                        // one does not.
                        Stage::Index {
                            which: Which::Batch,
                            resume: TxnId(0),
                        }
                    };
                }
                Stage::Index { which, resume } => {
                    if self.build(which, work) {
                        self.stage = Stage::Records { next: resume };
                    }
                }
                Stage::Records { next } => {
                    let mut txns = term.transactions_from(next);
                    self.stage = loop {
                        let Some(t) = txns.next() else {
                            break Stage::Lines { at: 0 };
                        };
                        if *work == 0 {
                            break Stage::Records { next: t.id };
                        }
                        *work = work.saturating_sub(cost::RECORD);
                        if let Some(which) = self.record(t, cfg.policy.utc_offset_minutes)? {
                            // Matched again once the index is ready.
                            break Stage::Index {
                                which,
                                resume: t.id,
                            };
                        }
                    };
                }
                Stage::Lines { mut at } => {
                    while at < lines.len() && *work > 0 {
                        if self.ours[at] {
                            self.line(at)?;
                            *work = work.saturating_sub(cost::LINE);
                        }
                        at += 1;
                    }
                    if at == lines.len() {
                        self.per_category = Category::ALL
                            .iter()
                            .map(|&category| CategoryTotal {
                                category,
                                count: 0,
                                terminal_amount: Money::zero(statement.currency),
                                acquirer_amount: Money::zero(statement.currency),
                            })
                            .collect();
                        self.stage = Stage::Totals { at: 0 };
                    } else {
                        self.stage = Stage::Lines { at };
                    }
                }
                Stage::Totals { mut at } => {
                    while at < self.items.len() && *work > 0 {
                        let item = &self.items[at];
                        let slot = &mut self.per_category[item.category as usize];
                        slot.count += 1;
                        if let Some(a) = item.terminal_amount {
                            slot.terminal_amount = slot.terminal_amount.checked_add(a)?;
                        }
                        if let Some(a) = item.acquirer_amount {
                            slot.acquirer_amount = slot.acquirer_amount.checked_add(a)?;
                        }
                        self.unexplained += u32::from(item.category.is_unexplained());
                        at += 1;
                        *work = work.saturating_sub(cost::TOTAL);
                    }
                    if at < self.items.len() {
                        self.stage = Stage::Totals { at };
                    } else {
                        return Ok(Some(self.report(term)));
                    }
                }
                Stage::Finished => panic!("Reconciler stepped after it finished"),
            }
        }
    }

    /// `CURRENCY_MISMATCH`, then `STATEMENT_NOT_FOR_TERMINAL`.
    fn check(&self, term: &Terminal) -> Result<(), PosError> {
        let cfg = term.config();
        let statement = self.statement;
        if statement.currency != cfg.currency {
            return Err(PosError::CurrencyMismatch {
                expected: cfg.currency,
                found: statement.currency,
            });
        }
        let ours_merchant = |l: &StatementLine| l.merchant_id == cfg.merchant_id;
        if !statement.lines.is_empty() && !statement.lines.iter().any(ours_merchant) {
            let found: SortedSet<&str> = statement
                .lines
                .iter()
                .map(|l| l.merchant_id.as_str())
                .collect();
            return Err(PosError::StatementNotForTerminal {
                expected: cfg.merchant_id.clone(),
                found: crate::money::truncate_for_error(
                    &found.iter().copied().collect::<Vec<_>>().join(","),
                ),
            });
        }
        Ok(())
    }

    /// This terminal's lines with their positions.
    fn our_lines(&self) -> impl Iterator<Item = (usize, &'s StatementLine)> + '_ {
        let ours = &self.ours;
        self.statement
            .lines
            .iter()
            .enumerate()
            .filter(move |&(i, _)| ours[i])
    }

    /// Builds the index `which` on while `work` lasts: whether it is
    /// ready.
    fn build(&mut self, which: Which, work: &mut u64) -> bool {
        let taken = cost::INDEX * self.ours_count as u64;
        match which {
            Which::Batch => {
                if self.by_batch.is_none() {
                    let index = LineIndex::new(
                        self.our_lines()
                            .map(|(i, l)| (batch_key(l.batch_no, l.trace_no), i)),
                    );
                    *work = work.saturating_sub(taken);
                    self.by_batch = Some(index);
                }
                self.by_batch.as_mut().is_some_and(|ix| ix.sort(work))
            }
            Which::Trace => {
                if self.by_trace.is_none() {
                    let index = LineIndex::new(
                        self.our_lines()
                            .map(|(i, l)| (trace_key(l.trace_no, l.date), i)),
                    );
                    *work = work.saturating_sub(taken);
                    self.by_trace = Some(index);
                }
                self.by_trace.as_mut().is_some_and(|ix| ix.sort(work))
            }
            Which::Rrn => {
                if self.by_rrn.is_none() {
                    let index = LineIndex::new(
                        self.our_lines()
                            .filter_map(|(i, l)| l.rrn.as_deref().map(|r| ((0, r), i))),
                    );
                    *work = work.saturating_sub(taken);
                    self.by_rrn = Some(index);
                }
                self.by_rrn.as_mut().is_some_and(|ix| ix.sort(work))
            }
        }
    }

    /// Matches one terminal record, and adds its item if it has one; or,
    /// changing nothing, names the index it needs first.
    fn record(&mut self, t: &Transaction, offset: i32) -> Result<Option<Which>, PosError> {
        // A fallback refund is settled outside the card network: no
        // acquirer line will ever show it (its confirmation reference is
        // its proof).
        if t.request.fallback.is_some() {
            return Ok(None);
        }
        let lines = &self.statement.lines;
        let kind = t.request.kind;
        let date = || t.request.at.local_date(offset);
        let by_batch = self
            .by_batch
            .as_ref()
            .filter(|ix| ix.is_sorted())
            .expect("built before the records");
        let key = batch_key(t.request.batch_no, t.request.trace_no);
        let found = match first_unused(by_batch.lines(&key), &self.used, lines, kind) {
            Some(i) => Some((i, MatchedBy::BatchAndTrace)),
            None => {
                let Some(by_trace) = self.by_trace.as_ref().filter(|ix| ix.is_sorted()) else {
                    return Ok(Some(Which::Trace));
                };
                let key = trace_key(t.request.trace_no, date());
                match first_unused(by_trace.lines(&key), &self.used, lines, kind) {
                    Some(i) => Some((i, MatchedBy::TraceAndDate)),
                    None => match txn_rrn(t) {
                        None => None,
                        Some(r) => {
                            let Some(by_rrn) = self.by_rrn.as_ref().filter(|ix| ix.is_sorted())
                            else {
                                return Ok(Some(Which::Rrn));
                            };
                            first_unused(by_rrn.lines(&(0, r)), &self.used, lines, kind)
                                .map(|i| (i, MatchedBy::Rrn))
                        }
                    },
                }
            }
        };
        let (category, finding, line) = match found {
            Some((i, by)) => {
                self.used[i] = true;
                let l = &lines[i];
                let (c, f) = classify(t, l);
                (c, f, Some((l, by)))
            }
            None if self.statement.dates.contains(&date()) => match missing(t) {
                Some((c, f)) => (c, f, None),
                None => return Ok(None),
            },
            None => return Ok(None),
        };
        if outcome(t) == Outcome::Approved {
            if let Some(negative) = net_direction(kind) {
                self.terminal_net = self.terminal_net.add(t.request.amount, negative)?;
            }
        }
        match category {
            Category::RefundCredited => self.credited.push(t.id),
            Category::RefundReturned => self.returned.push(t.id),
            Category::Matched
            | Category::TerminalOnly
            | Category::AcquirerOnly
            | Category::AmountMismatch
            | Category::ReturnedOrReversed
            | Category::RefundPending
            | Category::Unresolved => {}
        }
        self.items.push(ReconItem {
            category,
            finding,
            txn: Some(t.id),
            kind,
            batch_no: t.request.batch_no,
            trace_no: t.request.trace_no,
            rrn: txn_rrn(t)
                .map(str::to_owned)
                .or_else(|| line.and_then(|(l, _)| l.rrn.clone())),
            line: line.map(|(l, _)| l.line),
            terminal_amount: Some(t.request.amount),
            acquirer_amount: line.map(|(l, _)| l.amount),
            acquirer_status: line.map(|(l, _)| l.status),
            matched_by: line.map(|(_, by)| by),
            next_step: finding.next_step(),
        });
        Ok(None)
    }

    /// Sums this terminal's line `i`; unused, with money moved, it is an
    /// item.
    fn line(&mut self, i: usize) -> Result<(), PosError> {
        let l = &self.statement.lines[i];
        self.fees = self.fees.add_signed(l.fee)?;
        if l.status == LineStatus::Settled {
            if let Some(negative) = net_direction(l.kind) {
                self.acquirer_net = self.acquirer_net.add(l.amount, negative)?;
            }
        }
        if self.used[i] {
            return Ok(());
        }
        if !l.status.money_moved() {
            self.lines_without_effect += 1;
            return Ok(());
        }
        let finding = Finding::NotOnTerminal;
        self.items.push(ReconItem {
            category: Category::AcquirerOnly,
            finding,
            txn: None,
            kind: l.kind,
            batch_no: l.batch_no,
            trace_no: l.trace_no,
            rrn: l.rrn.clone(),
            line: Some(l.line),
            terminal_amount: None,
            acquirer_amount: Some(l.amount),
            acquirer_status: Some(l.status),
            matched_by: None,
            next_step: finding.next_step(),
        });
        Ok(())
    }

    fn report(&mut self, term: &Terminal) -> ReconReport {
        let cfg = term.config();
        let unexplained = self.unexplained;
        ReconReport {
            merchant_id: cfg.merchant_id.clone(),
            terminal_id: cfg.terminal_id.clone(),
            dates: self.statement.dates.iter().map(|d| d.to_string()).collect(),
            items: std::mem::take(&mut self.items),
            summary: ReconSummary {
                per_category: std::mem::take(&mut self.per_category),
                unexplained,
                balanced: unexplained == 0,
                terminal_net: self.terminal_net,
                acquirer_net: self.acquirer_net,
                fees: self.fees,
                other_terminal_lines: self.other_terminal_lines,
                lines_without_effect: self.lines_without_effect,
            },
            credited: std::mem::take(&mut self.credited),
            returned: std::mem::take(&mut self.returned),
            at: self.now,
        }
    }
}

impl ReconReport {
    /// The items of one category.
    pub fn of(&self, category: Category) -> impl Iterator<Item = &ReconItem> {
        self.items.iter().filter(move |i| i.category == category)
    }

    /// The summary row of one category.
    pub fn total(&self, category: Category) -> &CategoryTotal {
        self.summary
            .per_category
            .iter()
            .find(|c| c.category == category)
            .expect("every category has a row")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_parse_both_spellings_and_refuse_impossible_ones() {
        let d = |s| parse_date(s).map(|d| d.to_string());
        assert_eq!(d("20261123").as_deref(), Some("2026-11-23"));
        assert_eq!(d("2026-11-23").as_deref(), Some("2026-11-23"));
        assert_eq!(d("2024-02-29").as_deref(), Some("2024-02-29"));
        for bad in [
            "2026-02-29",
            "20261323",
            "2026/11/23",
            "2026-11-3",
            "",
            "２０２６1123",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
        assert_eq!(parse_time("003000").unwrap().to_string(), "00:30:00");
        assert_eq!(parse_time("23:59:59").unwrap().to_string(), "23:59:59");
        for bad in ["240000", "12:60:00", "1230", "12-30-00"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn csv_records_follow_rfc_4180() {
        let recs = csv_records("a,\"b,1\",\"say \"\"hi\"\"\"\r\n\nx,\"multi\nline\",z\n").unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(
            recs[0],
            (1, vec!["a".into(), "b,1".into(), "say \"hi\"".into()])
        );
        assert_eq!(
            recs[1],
            (3, vec!["x".into(), "multi\nline".into(), "z".into()])
        );
        assert_eq!(csv_records("a,\"open\n").unwrap_err().0, 1);
        assert_eq!(
            csv_records("a,b\nc,d\"e\n").unwrap_err(),
            (2, 1, "no quote inside an unquoted field")
        );
        assert_eq!(csv_records("\"a\"b\n").unwrap_err().1, 0);
        // A lone `\r` after a closing quote is not a line end (found by
        // fuzzing: its next byte was skipped as a `\n`, splitting the
        // character after it, and the next field's slice panicked).
        for text in ["\"a\"\r交易\n", "\"a\"\r", "x,\"a\" \r\"b\"\n"] {
            assert_eq!(
                csv_records(text).unwrap_err().2,
                "a comma or line end after a quote",
                "{text:?}"
            );
        }
        assert_eq!(
            csv_records("\"a\"\r\n\"交\"\r\nb\r").unwrap(),
            [
                (1, vec!["a".into()]),
                (2, vec!["交".into()]),
                (3, vec!["b\r".into()])
            ]
        );
    }

    #[test]
    fn a_break_of_the_csv_rules_anywhere_comes_before_a_bad_value() {
        // Records are read one at a time; the error is still the one a
        // split of the whole file first would give.
        let header = COLUMNS.map(|c| c.csv()).join(",");
        let good = "20261123,100100,898440350480001,10000001,000001,000001,000000000001,\
                    123456,622202*********3445,sale,100.00,0.38,settled";
        let bad_amount = good.replace("100.00", "abc");
        let field = |text: &str| {
            let err = Statement::from_csv(text, Currency::Cny).unwrap_err();
            let d = err.details();
            let get = |k| d.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
            (get("line"), get("field"))
        };
        let text = format!("{header}\n{bad_amount}\n{good}\n{good},\"open\n");
        assert_eq!(field(&text), (Some("4".into()), Some("field 14".into())));
        let text = format!("{header}\n{bad_amount}\n{good}\n");
        assert_eq!(field(&text), (Some("2".into()), Some("amount".into())));
        let text = format!("date\n{good}\n{good}\"\n");
        assert_eq!(field(&text), (Some("3".into()), Some("field 13".into())));
    }

    #[test]
    fn an_index_sorted_in_steps_is_sorted_whatever_the_order_and_the_work() {
        // A small generator (no dependency): the same entries every run.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in [0usize, 1, 2, 3, RUN - 1, RUN, RUN + 1, 3 * RUN + 7, 5_000] {
            let random: Vec<(u32, usize)> = (0..n).map(|i| ((next() % 97) as u32, i)).collect();
            let mut sorted = random.clone();
            sorted.sort_unstable();
            let mut late_swap = sorted.clone();
            if n > 2 {
                late_swap.swap(n - 1, n - 2);
            }
            let reversed: Vec<_> = sorted.iter().rev().copied().collect();
            for keys in [&random, &sorted, &late_swap, &reversed] {
                for work in [1u64, 2, 3, 100, 4_000, u64::MAX] {
                    let mut index = LineIndex::new(keys.iter().map(|&(k, i)| (k, i)));
                    let mut steps = 0;
                    loop {
                        steps += 1;
                        let mut left = work;
                        if index.sort(&mut left) {
                            break;
                        }
                        assert_eq!(left, 0, "a step stops only when its work is spent");
                    }
                    let got: Vec<(u32, usize)> = index
                        .entries
                        .iter()
                        .map(|&(k, i)| (k, i as usize))
                        .collect();
                    assert_eq!(got, sorted, "n {n}, work {work}, {steps} steps");
                    assert_eq!(index.merged.capacity(), 0, "the merge buffer is freed");
                }
            }
        }
    }

    #[test]
    fn cards_are_kept_masked_only() {
        assert_eq!(
            parse_card("622202*********3445").unwrap(),
            "622202*********3445"
        );
        assert_eq!(
            parse_card("6222020200112233445").unwrap(),
            "622202*********3445"
        );
        assert_eq!(parse_card("6222 0202"), None);
        assert_eq!(parse_card("62220202"), None);
    }

    #[test]
    fn names_are_the_serde_names() {
        fn json<T: Serialize>(v: &T) -> String {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        }
        for c in Category::ALL {
            assert_eq!(json(&c), c.as_str());
        }
        for f in Finding::ALL {
            assert_eq!(json(&f), f.as_str());
        }
        for m in MatchedBy::ALL {
            assert_eq!(json(&m), m.as_str());
        }
        for s in LineStatus::ALL {
            assert_eq!(json(&s), s.as_str());
        }
    }

    #[test]
    fn every_category_is_unexplained_or_not_by_the_table() {
        let unexplained: Vec<&str> = Category::ALL
            .iter()
            .filter(|c| c.is_unexplained())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            unexplained,
            [
                "terminal_only",
                "acquirer_only",
                "amount_mismatch",
                "returned_or_reversed",
                "unresolved"
            ]
        );
    }
}
