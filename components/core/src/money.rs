//! Money: integer minor units with their currency, always together, and
//! conversions that say which rate they used.
//!
//! - [`Currency`]: the five currencies EchoPilot bills in (USD, EUR, GBP,
//!   INR, PKR), each with its minor-unit exponent.
//! - [`Money`]: an amount in minor units (cents, paise) and its currency;
//!   served as `{"amount": 1234, "currency": "USD"}`. Amounts of different
//!   currencies never add: [`Money::checked_add`] refuses, and
//!   [`Totals`] keeps one sum per currency.
//! - [`RateBook`]: exchange rates as USD per unit of each currency, with the
//!   day each rate is for, from the `exchange_rates` variable and the
//!   admin route (`finance::rates`). [`RateBook::convert`] turns an amount
//!   into another currency at the rate in force on a day and returns a
//!   [`Converted`] that records the rate and its date, so every converted
//!   figure can be checked by hand: `to = round(from × rate)`.
//!
//! Rates are fixed-point (10⁻⁹) and parsed from decimal text, so no
//! binary float ever touches an amount; rounding is half away from zero.

use crate::error::{Error, Result};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// A currency EchoPilot bills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Currency {
    /// US dollar.
    Usd,
    /// Euro.
    Eur,
    /// Pound sterling.
    Gbp,
    /// Indian rupee.
    Inr,
    /// Pakistani rupee.
    Pkr,
}

impl Currency {
    /// Every currency.
    pub const ALL: [Currency; 5] = [
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Inr,
        Currency::Pkr,
    ];

    /// The ISO 4217 code, upper case (as served).
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Inr => "INR",
            Currency::Pkr => "PKR",
        }
    }

    /// The code as Stripe writes it (lower case).
    pub fn stripe_code(self) -> &'static str {
        match self {
            Currency::Usd => "usd",
            Currency::Eur => "eur",
            Currency::Gbp => "gbp",
            Currency::Inr => "inr",
            Currency::Pkr => "pkr",
        }
    }

    /// Digits after the decimal point: 2 for all five (Stripe bills INR
    /// and PKR in paisa).
    pub fn exponent(self) -> u32 {
        2
    }

    /// Parse a code in any case (Stripe sends `eur`); 422
    /// `invalid_currency` for anything else.
    pub fn parse(s: &str) -> Result<Currency> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::unprocessable(
                    "invalid_currency",
                    format!(
                        "unknown currency `{}`; expected one of USD, EUR, GBP, INR, PKR",
                        s.chars().take(12).collect::<String>()
                    ),
                )
            })
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// An amount in minor units and its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Money {
    /// Minor units (cents, paise); negative for credits and reversals.
    pub amount: i64,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// `amount` minor units of `currency`.
    pub fn new(amount: i64, currency: Currency) -> Money {
        Money { amount, currency }
    }

    /// Zero of `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money::new(0, currency)
    }

    /// The sum, if both are in one currency (422 `currency_mismatch`
    /// otherwise: amounts of different currencies never add).
    pub fn checked_add(self, other: Money) -> Result<Money> {
        if self.currency != other.currency {
            return Err(Error::unprocessable(
                "currency_mismatch",
                format!(
                    "{} and {} amounts cannot be added without a conversion",
                    self.currency.code(),
                    other.currency.code()
                ),
            ));
        }
        Ok(Money::new(self.amount + other.amount, self.currency))
    }

    /// The amount as a decimal string in major units (`-12.05`), exactly.
    pub fn decimal(self) -> String {
        let scale = 10i64.pow(self.currency.exponent());
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale as u64,
            abs % scale as u64,
            width = self.currency.exponent() as usize
        )
    }
}

/// Sums kept apart by currency: the only way amounts of several
/// currencies are totalled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals(BTreeMap<Currency, i64>);

impl Totals {
    /// Add `m` to its currency's sum.
    pub fn add(&mut self, m: Money) {
        *self.0.entry(m.currency).or_insert(0) += m.amount;
    }

    /// Each currency's sum.
    pub fn iter(&self) -> impl Iterator<Item = Money> + '_ {
        self.0.iter().map(|(c, a)| Money::new(*a, *c))
    }

    /// The sum in `currency` (zero if none).
    pub fn get(&self, currency: Currency) -> Money {
        Money::new(self.0.get(&currency).copied().unwrap_or(0), currency)
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As served: `{"EUR": 1200, "USD": 300}` (minor units by code).
    pub fn view(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(c, a)| (c.code().to_string(), serde_json::json!(a)))
                .collect(),
        )
    }
}

/// Fixed-point scale of rates: 10⁻⁹.
pub const RATE_SCALE: i128 = 1_000_000_000;

/// Parse a positive decimal (`"1.085"`, `"0.0036"`, `"83"`) into units of
/// 10⁻⁹, exactly; `None` for anything else (signs, exponents, more than 9
/// decimals, zero, overflow).
pub fn parse_rate(text: &str) -> Option<i64> {
    let text = text.trim();
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
        || int.len() > 9
    {
        return None;
    }
    let int: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut frac_units: i64 = 0;
    for (i, b) in frac.bytes().enumerate() {
        frac_units += (b - b'0') as i64 * 10i64.pow(8 - i as u32);
    }
    let v = int.checked_mul(1_000_000_000)?.checked_add(frac_units)?;
    (v > 0).then_some(v)
}

/// A rate in units of 10⁻⁹ as decimal text without trailing zeros.
pub fn rate_text(rate_e9: i64) -> String {
    let s = format!(
        "{}.{:09}",
        rate_e9 / RATE_SCALE as i64,
        rate_e9 % RATE_SCALE as i64
    );
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `a × num / den`, rounded half away from zero (`den > 0`).
fn mul_div_round(a: i128, num: i128, den: i128) -> i128 {
    let p = a * num;
    let q = p / den;
    let r = p % den;
    if 2 * r.abs() >= den {
        q + p.signum()
    } else {
        q
    }
}

/// One currency's rate: USD per unit, for a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdRate {
    /// The currency.
    pub currency: Currency,
    /// USD per one unit (major) of the currency, in 10⁻⁹.
    pub usd_per_unit_e9: i64,
    /// The UTC day (days since 1970-01-01) the rate is for.
    pub day: i64,
    /// Where it came from: `variable` or `admin`.
    pub source: String,
}

/// A conversion, as recorded beside every converted figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Converted {
    /// The converted amount.
    pub amount: Money,
    /// What was converted.
    pub from: Money,
    /// Units of the target currency per unit of the source (10⁻⁹ precision,
    /// as text): `amount = round(from × rate)` in major units.
    pub rate: String,
    /// The day of the rate used (for cross rates, the older of the two).
    pub rate_date: String,
    /// Where the rate came from (`variable`, `admin`, `identity`).
    pub rate_source: String,
}

/// Exchange rates with their history: for each currency, rates by day.
#[derive(Debug, Clone, Default)]
pub struct RateBook {
    rates: BTreeMap<Currency, Vec<UsdRate>>,
}

impl RateBook {
    /// A book of `rates` (any order; USD needs none: it is 1).
    pub fn new(rates: Vec<UsdRate>) -> RateBook {
        let mut book = RateBook::default();
        for r in rates {
            if r.currency != Currency::Usd {
                book.rates.entry(r.currency).or_default().push(r);
            }
        }
        for list in book.rates.values_mut() {
            // Oldest first; for one day, `admin` beats `variable`.
            list.sort_by_key(|r| (r.day, r.source == "admin"));
        }
        book
    }

    /// The rate of `currency` in force on `day`: the latest for that day or
    /// before, else the oldest known (its date shows it is later).
    pub fn rate_on(&self, currency: Currency, day: i64) -> Option<&UsdRate> {
        let list = self.rates.get(&currency)?;
        list.iter()
            .rev()
            .find(|r| r.day <= day)
            .or_else(|| list.first())
    }

    /// The latest rate of every currency that has one.
    pub fn latest(&self) -> Vec<&UsdRate> {
        self.rates.values().filter_map(|l| l.last()).collect()
    }

    /// Convert `m` into `to` at the rates in force on `day`. 422
    /// `missing_exchange_rate` when a rate is unknown: amounts are never
    /// added, compared or reported across currencies without one.
    pub fn convert(&self, m: Money, to: Currency, day: i64) -> Result<Converted> {
        if m.currency == to {
            return Ok(Converted {
                amount: m,
                from: m,
                rate: "1".into(),
                rate_date: crate::time::date(day * crate::time::DAY_MS),
                rate_source: "identity".into(),
            });
        }
        let usd = |c: Currency| -> Result<(i128, i64, String)> {
            if c == Currency::Usd {
                return Ok((RATE_SCALE, i64::MAX, String::new()));
            }
            self.rate_on(c, day)
                .map(|r| (r.usd_per_unit_e9 as i128, r.day, r.source.clone()))
                .ok_or_else(|| {
                    Error::unprocessable(
                        "missing_exchange_rate",
                        format!(
                            "no exchange rate for {}: set the `exchange_rates` variable or POST /api/finance/rates",
                            c.code()
                        ),
                    )
                })
        };
        let (from_usd, from_day, from_src) = usd(m.currency)?;
        let (to_usd, to_day, to_src) = usd(to)?;
        // Units of `to` per unit of `from`, rounded to 10⁻⁹; the amount is
        // converted with exactly this recorded rate.
        let rate_e9 = mul_div_round(from_usd, RATE_SCALE, to_usd);
        let exp = |c: Currency| 10i128.pow(c.exponent());
        let amount = mul_div_round(
            m.amount as i128 * exp(to),
            rate_e9,
            RATE_SCALE * exp(m.currency),
        );
        let source = match (from_src.as_str(), to_src.as_str()) {
            ("", s) | (s, "") => s.to_string(),
            (a, b) if a == b => a.to_string(),
            (a, b) => format!("{a}+{b}"),
        };
        Ok(Converted {
            amount: Money::new(amount as i64, to),
            from: m,
            rate: rate_text(rate_e9 as i64),
            rate_date: crate::time::date(from_day.min(to_day) * crate::time::DAY_MS),
            rate_source: source,
        })
    }
}

/// Parse the `exchange_rates` variable: `date=YYYY-MM-DD,EUR=1.085,...`
/// (USD per unit of each currency). Empty: no rates.
pub fn parse_rate_spec(spec: &str, source: &str) -> Result<Vec<UsdRate>> {
    let bad = |why: &str| {
        crate::config::invalid(
            "exchange_rates",
            &format!("`date=YYYY-MM-DD,EUR=1.085,GBP=1.27,...` (USD per unit; {why})"),
            spec,
        )
    };
    if spec.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut day = None;
    let mut pairs = Vec::new();
    for item in spec.split(',') {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| bad("pairs of name=value"))?;
        if k.trim() == "date" {
            day = Some(crate::time::parse_day(v.trim()).ok_or_else(|| bad("a valid date"))?);
            continue;
        }
        let currency = Currency::parse(k).map_err(|_| bad("known currencies only"))?;
        let rate = parse_rate(v).ok_or_else(|| bad("positive decimals, at most 9 places"))?;
        pairs.push((currency, rate));
    }
    let day = day.ok_or_else(|| bad("the date the rates are for"))?;
    Ok(pairs
        .into_iter()
        .map(|(currency, usd_per_unit_e9)| UsdRate {
            currency,
            usd_per_unit_e9,
            day,
            source: source.into(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 20_000;

    fn book() -> RateBook {
        RateBook::new(vec![
            UsdRate {
                currency: Currency::Eur,
                usd_per_unit_e9: 1_085_000_000,
                day: DAY,
                source: "variable".into(),
            },
            UsdRate {
                currency: Currency::Gbp,
                usd_per_unit_e9: 1_270_000_000,
                day: DAY - 3,
                source: "admin".into(),
            },
            UsdRate {
                currency: Currency::Eur,
                usd_per_unit_e9: 1_100_000_000,
                day: DAY + 10,
                source: "admin".into(),
            },
        ])
    }

    #[test]
    fn currencies_parse_in_any_case_and_serve_upper_case() {
        assert_eq!(Currency::parse("eur").unwrap(), Currency::Eur);
        assert_eq!(Currency::parse(" PKR ").unwrap(), Currency::Pkr);
        assert_eq!(Currency::parse("JPY").unwrap_err().code, "invalid_currency");
        let v = serde_json::to_value(Money::new(1999, Currency::Inr)).unwrap();
        assert_eq!(v, serde_json::json!({"amount": 1999, "currency": "INR"}));
    }

    #[test]
    fn amounts_of_different_currencies_never_add() {
        let usd = Money::new(100, Currency::Usd);
        assert_eq!(usd.checked_add(usd).unwrap().amount, 200);
        let e = usd.checked_add(Money::new(1, Currency::Eur)).unwrap_err();
        assert_eq!(e.code, "currency_mismatch");
        let mut t = Totals::default();
        t.add(usd);
        t.add(Money::new(5, Currency::Eur));
        t.add(usd);
        assert_eq!(t.get(Currency::Usd).amount, 200);
        assert_eq!(t.view(), serde_json::json!({"USD": 200, "EUR": 5}));
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(Money::new(1205, Currency::Usd).decimal(), "12.05");
        assert_eq!(Money::new(-7, Currency::Eur).decimal(), "-0.07");
        assert_eq!(Money::new(0, Currency::Gbp).decimal(), "0.00");
    }

    #[test]
    fn rates_parse_exactly() {
        assert_eq!(parse_rate("1.085"), Some(1_085_000_000));
        assert_eq!(parse_rate("0.0036"), Some(3_600_000));
        assert_eq!(parse_rate("83"), Some(83_000_000_000));
        assert_eq!(parse_rate(".5"), Some(500_000_000));
        for bad in ["", "0", "-1", "1e3", "1.0000000001", "abc", "1.2.3"] {
            assert_eq!(parse_rate(bad), None, "{bad}");
        }
        assert_eq!(rate_text(1_085_000_000), "1.085");
        assert_eq!(rate_text(83_000_000_000), "83");
    }

    #[test]
    fn conversions_record_their_rate_and_reproduce_by_hand() {
        let b = book();
        // EUR → USD on DAY: 100.00 EUR × 1.085 = 108.50 USD.
        let c = b
            .convert(Money::new(10_000, Currency::Eur), Currency::Usd, DAY)
            .unwrap();
        assert_eq!(c.amount, Money::new(10_850, Currency::Usd));
        assert_eq!(
            (c.rate.as_str(), c.rate_source.as_str()),
            ("1.085", "variable")
        );
        assert_eq!(c.rate_date, crate::time::date(DAY * crate::time::DAY_MS));
        // Later, the admin's newer rate is in force.
        let later = b
            .convert(Money::new(10_000, Currency::Eur), Currency::Usd, DAY + 11)
            .unwrap();
        assert_eq!(later.amount.amount, 11_000);
        // Cross rate EUR → GBP: 1.085 / 1.27 = 0.854330709 (rounded to 1e-9),
        // and the older of the two dates.
        let x = b
            .convert(Money::new(10_000, Currency::Eur), Currency::Gbp, DAY)
            .unwrap();
        assert_eq!(x.rate, "0.854330709");
        assert_eq!(x.amount.amount, 8_543);
        assert_eq!(
            x.rate_date,
            crate::time::date((DAY - 3) * crate::time::DAY_MS)
        );
        assert_eq!(x.rate_source, "variable+admin");
        // Half away from zero, for credits too.
        let neg = b
            .convert(Money::new(-1, Currency::Eur), Currency::Usd, DAY)
            .unwrap();
        assert_eq!(neg.amount.amount, -1);
        // No rate: refused, never a silent 1:1.
        let e = b
            .convert(Money::new(1, Currency::Inr), Currency::Usd, DAY)
            .unwrap_err();
        assert_eq!(e.code, "missing_exchange_rate");
        // Before the first rate, the oldest is used (and its date says so).
        let early = b
            .convert(Money::new(100, Currency::Eur), Currency::Usd, DAY - 100)
            .unwrap();
        assert_eq!(early.rate, "1.085");
    }

    #[test]
    fn the_variable_names_its_date_and_refuses_nonsense() {
        let r = parse_rate_spec("date=2026-11-01,EUR=1.085,pkr=0.0036", "variable").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].currency, Currency::Pkr);
        assert_eq!(r[0].day, crate::time::parse_day("2026-11-01").unwrap());
        assert!(parse_rate_spec("", "variable").unwrap().is_empty());
        for bad in [
            "EUR=1.0",
            "date=2026-11-01,JPY=1",
            "date=x,EUR=1",
            "date=2026-11-01,EUR=-1",
        ] {
            let e = parse_rate_spec(bad, "variable").unwrap_err();
            assert_eq!(e.code, "invalid_configuration", "{bad}");
        }
    }
}
