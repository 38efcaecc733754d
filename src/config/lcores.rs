//! Enough of DPDK's `--lcores` syntax to know which lcores exist.
//!
//! `--lcores='<lcores[@cpus]>[<,lcores[@cpus]>...]'` where `lcores` and
//! `cpus` are a number, a range `a-b`, or a group `(x,y,a-b)`. Examples:
//! `0-5`, `0,2,4`, `0@0,1@1,2@0`, `(3,4)@1`, `0@(0-3),1-2@4`.

use std::collections::BTreeSet;

/// Largest lcore or CPU id accepted (DPDK's `RTE_MAX_LCORE` is usually
/// 128; builds may raise it, so this is only a sanity bound).
pub const MAX_LCORE_ID: u32 = 1023;

fn parse_num(s: &str) -> Result<u32, String> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not an lcore number"));
    }
    let v: u32 = t.parse().map_err(|_| format!("{s:?} is too large"))?;
    if v > MAX_LCORE_ID {
        return Err(format!("lcore/cpu id {v} exceeds {MAX_LCORE_ID}"));
    }
    Ok(v)
}

/// A number or `a-b` range.
fn parse_range(s: &str, out: &mut Vec<u32>) -> Result<(), String> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse_num(a)?, parse_num(b)?);
            if a > b {
                return Err(format!("range {a}-{b} is empty"));
            }
            out.extend(a..=b);
        }
        None => out.push(parse_num(s)?),
    }
    Ok(())
}

/// A number, range or parenthesised group.
fn parse_set(s: &str) -> Result<Vec<u32>, String> {
    let mut v = Vec::new();
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('(') {
        let inner = inner
            .strip_suffix(')')
            .ok_or_else(|| format!("unbalanced parenthesis in {s:?}"))?;
        if inner.contains(['(', ')']) {
            return Err(format!("nested parentheses in {s:?}"));
        }
        for part in inner.split(',') {
            parse_range(part, &mut v)?;
        }
    } else {
        if s.contains([')', '(']) {
            return Err(format!("unbalanced parenthesis in {s:?}"));
        }
        parse_range(s, &mut v)?;
    }
    Ok(v)
}

/// Parses an `--lcores` value and returns the lcore ids, sorted ascending
/// (DPDK's main lcore is the lowest). An lcore listed twice is an error.
pub fn parse_lcores(list: &str) -> Result<Vec<u32>, String> {
    if list.trim().is_empty() {
        return Err("empty lcore list".into());
    }
    // Split at top-level commas.
    let mut elems = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced parenthesis".into());
                }
            }
            ',' if depth == 0 => {
                elems.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced parenthesis".into());
    }
    elems.push(&list[start..]);
    let mut seen = BTreeSet::new();
    for e in elems {
        if e.trim().is_empty() {
            return Err("empty element".into());
        }
        let (lc, cpus) = match e.split_once('@') {
            Some((l, c)) => (l, Some(c)),
            None => (e, None),
        };
        if let Some(c) = cpus {
            if c.trim().is_empty() {
                return Err(format!("no cpu after '@' in {:?}", e.trim()));
            }
            parse_set(c)?;
        }
        for id in parse_set(lc)? {
            if !seen.insert(id) {
                return Err(format!("lcore {id} is listed twice"));
            }
        }
    }
    Ok(seen.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!(parse_lcores("0-5").unwrap(), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(parse_lcores("0,2,4").unwrap(), vec![0, 2, 4]);
        assert_eq!(parse_lcores("0@0,1@1,2@0").unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_lcores("(3,4)@1").unwrap(), vec![3, 4]);
        assert_eq!(parse_lcores("0@(0-3),(1-2,5)@4").unwrap(), vec![0, 1, 2, 5]);
        assert_eq!(parse_lcores("7,1, 3").unwrap(), vec![1, 3, 7]);
        assert_eq!(parse_lcores("2").unwrap(), vec![2]);
    }

    #[test]
    fn rejected_forms() {
        for bad in [
            "", "a", "1-", "3-1", "0,,1", "(1,2", "1,2)", "0@", "0@x", "((1))", "1,1", "0-3,2",
            "5000", "-1",
        ] {
            assert!(parse_lcores(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_lcores("1,1").unwrap_err(), "lcore 1 is listed twice");
    }
}
