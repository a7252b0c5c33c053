//! Receipts (签购单): the structured voucher of every record kind, of a
//! reversal (冲正) and of a settlement (结算单), and their rendering as
//! fixed-width lines for 32-column (58 mm) and 48-column (80 mm) thermal
//! printers and as HTML with print CSS.
//!
//! Every receipt comes in two copies: the merchant's (商户存根), which carries
//! the cardholder's signature line (持卡人签名), and the cardholder's
//! (持卡人存根). A reprint says so (重打印 REPRINT) at the top and the bottom.
//!
//! Fixed-width rendering counts CJK and full-width characters as two
//! columns ([`display_width`]) and never lets a line overflow: a label and
//! its value share a line when both fit, otherwise the value goes right-
//! aligned on the lines below, and any text longer than the paper is wrapped
//! at spaces or between CJK characters, and cut hard only inside a word
//! wider than the paper.
//!
//! Only the masked card number is ever printed (DESIGN.md invariant 9); free
//! text typed by people (merchant name, refund reason) has any run of 12 or
//! more digits masked too, in case a card number was typed into it.
//!
//! ```
//! use posflow_core::prelude::*;
//! use posflow_core::receipt::{Receipt, ReceiptCopy, ReceiptOptions, Width, display_width};
//!
//! let mut host = SimulatedAcquirer::new(7);
//! let mut term = Terminal::open(demo_config(), Vec::new(), Timestamp(0)).unwrap();
//! term.sign_in("01", "1234", Timestamp(0)).unwrap();
//! let card = Card::from_pan("6222020200112233445").unwrap();
//! let amount = Money::parse("100.00", Currency::Cny).unwrap();
//! let id = Driver::new(&mut term, &mut host)
//!     .run(Command::Sale { amount, card }, "k1", Timestamp(1)).unwrap();
//! let opts = ReceiptOptions::new("示例便利店", ReceiptCopy::Merchant, Width::Cols32);
//! let lines = Receipt::new(&term, id, &opts).unwrap().printout().lines(opts.width);
//! assert!(lines.iter().all(|l| display_width(l) <= 32));
//! assert!(lines.iter().any(|l| l.contains("622202*********3445")));
//! assert!(lines.iter().any(|l| l.contains("持卡人签名")));
//! ```

use serde::{Deserialize, Serialize};

use crate::error::PosError;
use crate::host::{BatchNo, TraceNo};
use crate::money::Money;
use crate::record::{Kind, TxnId};
use crate::terminal::{Terminal, TxnState};
use crate::time::Timestamp;
use crate::totals::{totals_label, BatchState, KindTotal, SettlementReport, Totals};

// ----- display width ---------------------------------------------------

/// Columns a character takes on a receipt printer: 0 for control and
/// combining characters, 2 for CJK, full-width and the East Asian
/// "ambiguous" punctuation that GB18030 printer fonts draw wide (“ ” · — …),
/// 1 otherwise. Counting an ambiguous character as 2 can only leave a column
/// unused; counting it as 1 could overflow the line.
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    if c.is_control() {
        return 0;
    }
    let zero = [
        (0x0300, 0x036F), // combining diacritics
        (0x200B, 0x200F), // zero-width space, joiners, marks
        (0x20D0, 0x20FF), // combining marks for symbols
        (0xFE00, 0xFE0F), // variation selectors
        (0xFE20, 0xFE2F), // combining half marks
    ];
    if zero.iter().any(|&(a, b)| (a..=b).contains(&u)) {
        return 0;
    }
    let wide = [
        (0x00A7, 0x00A8),   // § ¨
        (0x00B0, 0x00B1),   // ° ±
        (0x00B7, 0x00B7),   // ·
        (0x00D7, 0x00D7),   // ×
        (0x00F7, 0x00F7),   // ÷
        (0x2010, 0x203E),   // dashes, quotes, ‰, ※, …
        (0x2100, 0x22FF),   // letterlike, number forms, arrows, maths
        (0x2460, 0x27BF),   // circled numbers, box drawing, shapes, symbols
        (0x1100, 0x115F),   // Hangul Jamo
        (0x2E80, 0x303E),   // CJK radicals, punctuation, ideographic space
        (0x3041, 0x33FF),   // kana, bopomofo, CJK compatibility
        (0x3400, 0x4DBF),   // CJK extension A
        (0x4E00, 0x9FFF),   // CJK unified ideographs
        (0xA000, 0xA4CF),   // Yi
        (0xAC00, 0xD7A3),   // Hangul syllables
        (0xF900, 0xFAFF),   // CJK compatibility ideographs
        (0xFE10, 0xFE19),   // vertical forms
        (0xFE30, 0xFE6F),   // CJK compatibility forms, small forms
        (0xFF00, 0xFF60),   // full-width forms
        (0xFFE0, 0xFFE6),   // full-width signs
        (0x1F300, 0x1F64F), // pictographs, emoticons
        (0x1F900, 0x1F9FF), // supplemental pictographs
        (0x20000, 0x3FFFD), // CJK extensions B and beyond
    ];
    if wide.iter().any(|&(a, b)| (a..=b).contains(&u)) {
        2
    } else {
        1
    }
}

/// Columns `text` takes on a receipt printer (see [`char_width`]).
pub fn display_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// Masks every run of 12 or more digits (a card number typed into free
/// text) as the card module masks a PAN: first 6, last 4.
pub fn redact_card_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 12 {
            out.push_str(&crate::card::mask(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Free text as it may be printed: card numbers masked, control characters
/// (line breaks included) turned into spaces, runs of spaces collapsed.
fn printable(text: &str) -> String {
    let redacted = redact_card_numbers(text);
    let spaced: String = redacted
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits `text` into lines of at most `width` columns: at spaces, between
/// wide characters, and hard inside a word only when the word alone is
/// wider than the line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    assert!(width >= 2, "a line holds at least one wide character");
    // Tokens: a run of narrow non-space characters, or one wide character;
    // each remembers whether a space came before it.
    let mut tokens: Vec<(bool, String)> = Vec::new();
    let mut space = false;
    let mut word = String::new();
    let mut word_space = false;
    for c in text.chars() {
        if c == ' ' {
            if !word.is_empty() {
                tokens.push((word_space, std::mem::take(&mut word)));
            }
            space = true;
        } else if char_width(c) == 2 {
            if !word.is_empty() {
                tokens.push((word_space, std::mem::take(&mut word)));
            }
            tokens.push((space, c.to_string()));
            space = false;
        } else {
            if word.is_empty() {
                word_space = space;
            }
            word.push(c);
            space = false;
        }
    }
    if !word.is_empty() {
        tokens.push((word_space, word));
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for (space_before, token) in tokens {
        let w = display_width(&token);
        let gap = usize::from(space_before && used > 0);
        if used + gap + w <= width {
            if gap == 1 {
                line.push(' ');
            }
            line.push_str(&token);
            used += gap + w;
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        // The token alone: fits, or is cut hard.
        for c in token.chars() {
            let cw = char_width(c);
            if used + cw > width {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += cw;
        }
    }
    if used > 0 || lines.is_empty() {
        lines.push(line);
    }
    debug_assert!(lines.iter().all(|l| display_width(l) <= width));
    lines
}

// ----- options ----------------------------------------------------------

/// Which copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptCopy {
    /// 商户存根, kept by the merchant, signed by the cardholder.
    Merchant,
    /// 持卡人存根, handed to the cardholder.
    Cardholder,
}

impl ReceiptCopy {
    /// Chinese and English, as printed.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            ReceiptCopy::Merchant => ("商户存根", "MERCHANT COPY"),
            ReceiptCopy::Cardholder => ("持卡人存根", "CARDHOLDER COPY"),
        }
    }
}

/// The paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Width {
    /// 58 mm paper, 32 columns.
    #[serde(rename = "32")]
    Cols32,
    /// 80 mm paper, 48 columns.
    #[serde(rename = "48")]
    Cols48,
}

impl Width {
    /// Columns per line.
    pub fn columns(self) -> usize {
        match self {
            Width::Cols32 => 32,
            Width::Cols48 => 48,
        }
    }

    /// Paper width in millimetres.
    pub fn paper_mm(self) -> u32 {
        match self {
            Width::Cols32 => 58,
            Width::Cols48 => 80,
        }
    }

    /// From a column count, 32 or 48.
    pub fn from_columns(columns: u32) -> Result<Width, PosError> {
        match columns {
            32 => Ok(Width::Cols32),
            48 => Ok(Width::Cols48),
            other => Err(PosError::invalid_input(
                "width",
                "32 or 48",
                &other.to_string(),
            )),
        }
    }
}

/// How to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptOptions {
    /// Which copy.
    pub copy: ReceiptCopy,
    /// Which paper.
    pub width: Width,
    /// A reprint (重打印).
    pub reprint: bool,
    /// Print voids, refunds and completion voids with a minus sign.
    pub negative: bool,
    /// The merchant's name (商户名称): the terminal's configuration has none.
    pub merchant_name: String,
}

impl ReceiptOptions {
    /// An original (not a reprint), amounts unsigned.
    pub fn new(merchant_name: &str, copy: ReceiptCopy, width: Width) -> ReceiptOptions {
        ReceiptOptions {
            copy,
            width,
            reprint: false,
            negative: false,
            merchant_name: merchant_name.to_owned(),
        }
    }
}

// ----- the structured receipt --------------------------------------------

/// What the voucher is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "kind")]
pub enum Voucher {
    /// A record of this kind.
    Txn(Kind),
    /// The reversal (冲正) of a record of this kind.
    Reversal(Kind),
}

impl Voucher {
    /// The type as printed: Chinese and English.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Voucher::Txn(kind) => kind.names(),
            Voucher::Reversal(_) => ("冲正", "REVERSAL"),
        }
    }
}

/// A refund route as the refund planner names it, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteText {
    /// 中文, e.g. 原路退回.
    pub zh: String,
    /// English, e.g. ORIGINAL ROUTE.
    pub en: String,
}

/// What a refund voucher adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundDetails {
    /// The route the planner chose (a fallback with its masked account).
    pub route: Option<RouteText>,
    /// Why (the request's reason), printable.
    pub reason: String,
}

/// The transaction a void, refund, completion or cancel acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginalDetails {
    /// Its trace number (原凭证号).
    pub trace_no: TraceNo,
    /// Its batch.
    pub batch_no: BatchNo,
    /// Its RRN (原参考号).
    pub rrn: Option<String>,
    /// Its auth code (原授权码).
    pub auth_code: Option<String>,
    /// Its local date (原交易日期), `YYYY-MM-DD`.
    pub date: String,
}

/// A voucher (签购单), every field as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// The transaction.
    pub txn: TxnId,
    /// Which copy.
    pub copy: ReceiptCopy,
    /// A reprint.
    pub reprint: bool,
    /// The merchant's name, printable.
    pub merchant_name: String,
    /// Merchant id (商户编号).
    pub merchant_id: String,
    /// Terminal id (终端编号).
    pub terminal_id: String,
    /// Who was signed in (操作员号).
    pub operator_id: String,
    /// The card, masked (卡号).
    pub masked_pan: String,
    /// Issued abroad (外卡).
    pub foreign: bool,
    /// What it is for.
    pub voucher: Voucher,
    /// Batch (批次号).
    pub batch_no: BatchNo,
    /// Trace number (凭证号).
    pub trace_no: TraceNo,
    /// RRN (参考号).
    pub rrn: Option<String>,
    /// Auth code (授权码).
    pub auth_code: Option<String>,
    /// Local date of the outcome, `YYYY-MM-DD`.
    pub date: String,
    /// Local time of the outcome, `HH:MM:SS`.
    pub time: String,
    /// The amount.
    pub amount: Money,
    /// Whether the amount prints with a minus sign.
    pub negative: bool,
    /// The original, for kinds that act on one.
    pub original: Option<OriginalDetails>,
    /// Refunds only.
    pub refund: Option<RefundDetails>,
}

fn local(at: Timestamp, offset: i32) -> (String, String) {
    let (h, m, s) = at.local_time(offset);
    (
        at.local_date(offset).to_string(),
        format!("{h:02}:{m:02}:{s:02}"),
    )
}

impl Receipt {
    /// The voucher of transaction `id`: of its kind when approved, a
    /// reversal voucher when reversed. `RECEIPT_NOT_AVAILABLE` when it is
    /// unknown, declined or still unresolved (nothing to vouch for).
    pub fn new(term: &Terminal, id: TxnId, opts: &ReceiptOptions) -> Result<Receipt, PosError> {
        let unavailable = |status: &str| PosError::ReceiptNotAvailable {
            txn: id.to_string(),
            status: status.to_owned(),
        };
        let t = term
            .transaction(id)
            .ok_or_else(|| unavailable("not_found"))?;
        let kind = t.request.kind;
        let (voucher, rrn, auth_code, at) = match &t.state {
            TxnState::Approved { rrn, auth_code, at } => {
                (Voucher::Txn(kind), rrn.clone(), auth_code.clone(), *at)
            }
            TxnState::Reversed { at } => (Voucher::Reversal(kind), None, None, *at),
            TxnState::Sent => return Err(unavailable("sent")),
            TxnState::InDoubt { .. } => return Err(unavailable("in_doubt")),
            TxnState::ManualReview { .. } => return Err(unavailable("manual_review")),
            TxnState::Declined { .. } => return Err(unavailable("declined")),
        };
        let cfg = term.config();
        let offset = cfg.policy.utc_offset_minutes;
        let (date, time) = local(at, offset);
        let original = t
            .request
            .original
            .and_then(|o| term.transaction(o))
            .map(|o| {
                let (rrn, auth_code) = match &o.state {
                    TxnState::Approved { rrn, auth_code, .. } => (rrn.clone(), auth_code.clone()),
                    TxnState::Sent
                    | TxnState::InDoubt { .. }
                    | TxnState::ManualReview { .. }
                    | TxnState::Declined { .. }
                    | TxnState::Reversed { .. } => (None, None),
                };
                OriginalDetails {
                    trace_no: o.request.trace_no,
                    batch_no: o.request.batch_no,
                    rrn,
                    auth_code,
                    date: o.request.at.local_date(offset).to_string(),
                }
            });
        let refund = match (voucher, kind) {
            (Voucher::Txn(Kind::Refund), _) => Some(RefundDetails {
                route: Some({
                    let route = t
                        .request
                        .fallback
                        .as_ref()
                        .map_or(crate::planner::Route::Original, |f| f.route);
                    let (zh, en) = route.names();
                    let account = t
                        .request
                        .fallback
                        .as_ref()
                        .and_then(|f| f.account.as_deref());
                    RouteText {
                        zh: match account {
                            Some(a) => format!("{zh} {a}"),
                            None => zh.to_owned(),
                        },
                        // The route names are ASCII: `str::to_uppercase`
                        // linked Unicode's case tables, 7.4 KB gzipped.
                        en: en.to_ascii_uppercase(),
                    }
                }),
                reason: printable(t.request.reason.as_deref().unwrap_or("")),
            }),
            _ => None,
        };
        let negative = opts.negative
            && matches!(voucher, Voucher::Txn(k) if crate::totals::net_direction(k) == Some(true));
        let receipt = Receipt {
            txn: id,
            copy: opts.copy,
            reprint: opts.reprint,
            merchant_name: printable(&opts.merchant_name),
            merchant_id: cfg.merchant_id.clone(),
            terminal_id: cfg.terminal_id.clone(),
            operator_id: t.request.operator_id.clone(),
            // Already masked by the card module; masked again should a
            // bare number ever have reached the journal.
            masked_pan: redact_card_numbers(&t.request.card.masked_pan),
            foreign: t.request.card.foreign,
            voucher,
            batch_no: t.request.batch_no,
            trace_no: t.request.trace_no,
            rrn,
            auth_code,
            date,
            time,
            amount: t.request.amount,
            negative,
            original,
            refund,
        };
        debug_assert!(receipt.masked_pan.contains('*'), "invariant 9");
        Ok(receipt)
    }

    /// The amount as printed: `CNY 100.00`, or `CNY -100.00`.
    pub fn amount_text(&self) -> String {
        let sign = if self.negative { "-" } else { "" };
        format!("{} {sign}{}", self.amount.currency(), self.amount)
    }

    /// The blocks to print.
    pub fn printout(&self) -> Printout {
        let mut p = Printout::new("签购单 POS SALES SLIP");
        p.center("签购单");
        p.center("POS SALES SLIP");
        if self.reprint {
            p.center(REPRINT);
        }
        let (copy_zh, copy_en) = self.copy.names();
        p.center(&format!("{copy_zh} {copy_en}"));
        p.rule();
        p.field("商户名称 MERCHANT NAME", &self.merchant_name);
        p.field("商户编号 MERCHANT NO", &self.merchant_id);
        p.field("终端编号 TERMINAL NO", &self.terminal_id);
        p.field("操作员号 OPERATOR NO", &self.operator_id);
        p.rule();
        let scheme = if self.foreign { "外卡 " } else { "" };
        p.field("卡号 CARD NO", &format!("{scheme}{}", self.masked_pan));
        let (zh, en) = self.voucher.names();
        p.field("交易类型 TRANS TYPE", &format!("{zh} {en}"));
        if let Voucher::Reversal(kind) = self.voucher {
            let (ozh, oen) = kind.names();
            p.field("原交易类型 ORIG TYPE", &format!("{ozh} {oen}"));
        }
        p.field("批次号 BATCH NO", &self.batch_no.to_string());
        p.field("凭证号 VOUCHER NO", &self.trace_no.to_string());
        if let Some(code) = &self.auth_code {
            p.field("授权码 AUTH NO", code);
        }
        if let Some(rrn) = &self.rrn {
            p.field("参考号 REFER NO", rrn);
        }
        p.field(
            "日期时间 DATE/TIME",
            &format!("{} {}", self.date, self.time),
        );
        if let Some(o) = &self.original {
            p.field("原凭证号 ORIG VOUCHER", &o.trace_no.to_string());
            if let Some(rrn) = &o.rrn {
                p.field("原参考号 ORIG REFER NO", rrn);
            }
            if let Some(code) = &o.auth_code {
                p.field("原授权码 ORIG AUTH NO", code);
            }
            p.field("原交易日期 ORIG DATE", &o.date);
        }
        p.rule();
        p.strong("金额 AMOUNT", &self.amount_text());
        if let Some(r) = &self.refund {
            if let Some(route) = &r.route {
                p.field("退款路径 ROUTE", &format!("{} {}", route.zh, route.en));
            }
            p.field("退款原因 REASON", &r.reason);
        }
        p.rule();
        match self.copy {
            ReceiptCopy::Merchant => {
                p.text("持卡人签名 CARDHOLDER SIGNATURE:");
                p.gap();
                p.gap();
                p.rule();
                p.text("本人确认以上交易，同意将其记入本卡账户");
                p.text("I ACKNOWLEDGE SATISFACTORY RECEIPT OF RELATIVE GOODS/SERVICES");
            }
            ReceiptCopy::Cardholder => {
                p.text("请妥善保管 PLEASE KEEP THIS SLIP");
            }
        }
        if self.reprint {
            p.center(REPRINT);
        }
        p
    }
}

const REPRINT: &str = "重打印 REPRINT";

/// The settlement report (结算单) as printed. The copy and sign options do
/// not apply; the merchant name and reprint do.
pub fn settlement_printout(
    report: &SettlementReport,
    opts: &ReceiptOptions,
    utc_offset_minutes: i32,
) -> Printout {
    let mut p = Printout::new("结算单 SETTLEMENT REPORT");
    p.center("结算单");
    p.center("SETTLEMENT REPORT");
    if opts.reprint {
        p.center(REPRINT);
    }
    p.rule();
    p.field("商户名称 MERCHANT NAME", &printable(&opts.merchant_name));
    p.field("商户编号 MERCHANT NO", &report.merchant_id);
    p.field("终端编号 TERMINAL NO", &report.terminal_id);
    p.field("批次号 BATCH NO", &report.batch_no.to_string());
    let (date, time) = local(report.at, utc_offset_minutes);
    p.field("日期时间 DATE/TIME", &format!("{date} {time}"));
    let (szh, sen) = report.state.names();
    p.field("结算状态 STATUS", &format!("{szh} {sen}"));
    p.field("币种 CURRENCY", report.totals.currency.code());
    let group = |p: &mut Printout, title: &str, t: &Totals| {
        p.rule();
        p.text(title);
        for (kind, KindTotal { count, amount }) in t.rows() {
            let (zh, en) = totals_label(kind);
            p.field(&format!("{zh} {en}"), &format!("{count}笔 {amount}"));
        }
        p.strong("净额 NET", &t.net.to_string());
    };
    group(&mut p, "内卡 DOMESTIC CARDS", &report.totals.domestic);
    group(&mut p, "外卡 FOREIGN CARDS", &report.totals.foreign);
    p.rule();
    p.strong("合计净额 TOTAL NET", &report.totals.all.net.to_string());
    if let Some(s) = &report.host_summary {
        p.field(
            "借记 DEBITS",
            &format!("{}笔 {}", s.debit_count, s.debit_amount),
        );
        p.field(
            "贷记 CREDITS",
            &format!("{}笔 {}", s.credit_count, s.credit_amount),
        );
    }
    p.rule();
    p.text("预授权及预授权撤销只计笔数，不计入净额");
    p.text("PRE-AUTHS AND CANCELS ARE COUNTED, NOT IN THE NET");
    if report.state == BatchState::Unbalanced {
        // The terminal does not batch-upload yet: say what the host said,
        // not that an upload happened.
        p.text("主机对账不平 HOST REPORTED UNBALANCED");
    }
    if opts.reprint {
        p.center(REPRINT);
    }
    p
}

// ----- printouts and their renderers ---------------------------------------

/// One element of a printout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "block")]
pub enum Block {
    /// Centred text.
    Center {
        /// The text.
        text: String,
    },
    /// A dashed rule.
    Rule,
    /// A label and its value, right-aligned.
    Field {
        /// The label.
        label: String,
        /// The value.
        value: String,
        /// Emphasised (the amount).
        strong: bool,
    },
    /// Left-aligned text.
    Text {
        /// The text.
        text: String,
    },
    /// An empty line (room to sign).
    Gap,
}

/// A receipt as blocks, rendered to fixed-width lines or HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Printout {
    /// The document title (HTML `<title>`).
    pub title: String,
    /// The blocks, top to bottom.
    pub blocks: Vec<Block>,
}

impl Printout {
    fn new(title: &str) -> Printout {
        Printout {
            title: title.to_owned(),
            blocks: Vec::new(),
        }
    }
    fn center(&mut self, text: &str) {
        self.blocks.push(Block::Center { text: text.into() });
    }
    fn rule(&mut self) {
        self.blocks.push(Block::Rule);
    }
    fn field(&mut self, label: &str, value: &str) {
        self.blocks.push(Block::Field {
            label: label.into(),
            value: value.into(),
            strong: false,
        });
    }
    fn strong(&mut self, label: &str, value: &str) {
        self.blocks.push(Block::Field {
            label: label.into(),
            value: value.into(),
            strong: true,
        });
    }
    fn text(&mut self, text: &str) {
        self.blocks.push(Block::Text { text: text.into() });
    }
    fn gap(&mut self) {
        self.blocks.push(Block::Gap);
    }

    /// Fixed-width lines, none wider than `width` (CJK counts 2) and none
    /// with trailing spaces.
    pub fn lines(&self, width: Width) -> Vec<String> {
        let w = width.columns();
        let pad = |n: usize| " ".repeat(n);
        let mut out = Vec::new();
        for block in &self.blocks {
            match block {
                Block::Center { text } => {
                    for l in wrap(text, w) {
                        out.push(format!("{}{l}", pad((w - display_width(&l)) / 2)));
                    }
                }
                Block::Rule => out.push("-".repeat(w)),
                Block::Field { label, value, .. } => {
                    let (lw, vw) = (display_width(label), display_width(value));
                    if lw + 1 + vw <= w {
                        out.push(format!("{label}{}{value}", pad(w - lw - vw)));
                    } else {
                        out.extend(wrap(&format!("{label}:"), w));
                        for l in wrap(value, w) {
                            out.push(format!("{}{l}", pad(w - display_width(&l))));
                        }
                    }
                }
                Block::Text { text } => out.extend(wrap(text, w)),
                Block::Gap => out.push(String::new()),
            }
        }
        let out: Vec<String> = out.into_iter().map(|l| l.trim_end().to_owned()).collect();
        debug_assert!(out.iter().all(|l| display_width(l) <= w));
        out
    }

    /// A standalone HTML page for a `width` printer: `@page` sized to the
    /// paper, print CSS, every text escaped.
    pub fn html(&self, width: Width) -> String {
        let mm = width.paper_mm();
        let mut body = String::new();
        for block in &self.blocks {
            match block {
                Block::Center { text } => {
                    body.push_str(&format!("<div class=\"c\">{}</div>\n", escape(text)))
                }
                Block::Rule => body.push_str("<hr>\n"),
                Block::Field {
                    label,
                    value,
                    strong,
                } => body.push_str(&format!(
                    "<div class=\"f{}\"><span class=\"l\">{}</span><span class=\"v\">{}</span></div>\n",
                    if *strong { " s" } else { "" },
                    escape(label),
                    escape(value)
                )),
                Block::Text { text } => {
                    body.push_str(&format!("<div class=\"t\">{}</div>\n", escape(text)))
                }
                Block::Gap => body.push_str("<div class=\"g\"></div>\n"),
            }
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{title}</title>\n<style>\n\
             @page {{ size: {mm}mm auto; margin: 0; }}\n\
             body {{ margin: 0; }}\n\
             .slip {{ width: {mm}mm; box-sizing: border-box; padding: 2mm 3mm; \
             font-family: \"SimSun\", \"Songti SC\", \"Noto Sans Mono CJK SC\", monospace; \
             font-size: 9pt; line-height: 1.35; color: #000; }}\n\
             .c {{ text-align: center; }}\n\
             .f {{ display: flex; justify-content: space-between; gap: 0.5em; }}\n\
             .f .v {{ text-align: right; word-break: break-all; }}\n\
             .f.s {{ font-weight: bold; font-size: 11pt; }}\n\
             .t {{ word-break: break-all; }}\n\
             .g {{ height: 1.35em; }}\n\
             hr {{ border: 0; border-top: 1px dashed #000; margin: 1mm 0; }}\n\
             @media screen {{ .slip {{ margin: 1em auto; border: 1px solid #ccc; }} }}\n\
             @media print {{ .slip {{ margin: 0; border: 0; padding: 0 1mm; }} }}\n\
             </style>\n</head>\n<body>\n<div class=\"slip w{mm}\">\n{body}</div>\n</body>\n</html>\n",
            title = escape(&self.title),
        )
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_names_are_ascii_so_ascii_uppercase_is_uppercase() {
        for route in [crate::planner::Route::Original, crate::planner::Route::None]
            .into_iter()
            .chain(crate::planner::Route::FALLBACKS)
        {
            let en = route.names().1;
            assert!(en.is_ascii(), "{en}");
            assert_eq!(en.to_ascii_uppercase(), en.to_uppercase());
        }
    }

    #[test]
    fn widths_count_cjk_and_full_width_as_two() {
        assert_eq!(display_width("SALE"), 4);
        assert_eq!(display_width("消费"), 4);
        assert_eq!(display_width("（通知）"), 8);
        assert_eq!(display_width("ＡＢ"), 4);
        assert_eq!(display_width("“引号”"), 8);
        assert_eq!(display_width("e\u{301}"), 1);
        assert_eq!(display_width("한"), 2);
        assert_eq!(display_width("𠀀"), 2);
    }

    #[test]
    fn wrap_breaks_at_spaces_between_cjk_and_hard_only_in_long_words() {
        assert_eq!(wrap("hello world", 8), ["hello", "world"]);
        assert_eq!(wrap("退货原因很长很长", 6), ["退货原", "因很长", "很长"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("ab 消费", 4), ["ab", "消费"]);
        assert_eq!(wrap("", 4), [""]);
        // A wide character never straddles the edge of an odd width.
        assert_eq!(wrap("a消费", 3), ["a消", "费"]);
        for l in wrap("中文 mixed 文字 with averyveryverylongword 和全角ＡＢＣ", 7) {
            assert!(display_width(&l) <= 7, "{l}");
        }
    }

    #[test]
    fn card_numbers_in_free_text_are_masked() {
        assert_eq!(
            redact_card_numbers("card 6222020200112233445 broken"),
            "card 622202*********3445 broken"
        );
        assert_eq!(
            redact_card_numbers("order 12345678901"),
            "order 12345678901"
        );
        assert_eq!(printable("a\nb\t\tc"), "a b c");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
        let mut p = Printout::new("<t>");
        p.field("名称", "<script>alert(1)</script>");
        let html = p.html(Width::Cols32);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("@page { size: 58mm auto"));
        assert!(html.contains("@media print"));
        assert!(p.html(Width::Cols48).contains("size: 80mm"));
    }
}
