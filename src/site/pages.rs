//! The pages of the site and their names: each set's own page (`<publish path>/index.html`) and
//! the root chain (`index.html`, `index-2.html`, …) that links every set, split into pages by
//! bytes so that no page grows past [`PAGE_LIMIT`] with the number of sets or the length of
//! their paths. Pure.

use std::ops::Range;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

/// The most bytes a page may have: SPEC §5, no file of the site grows past 1 MiB with the
/// number of sets (Cloudflare Pages refuses files over 25 MiB; browsers choke long before).
pub(crate) const PAGE_LIMIT: usize = 1 << 20;

/// What the links of one chain page may cost ([`link_cost`]): half of [`PAGE_LIMIT`], leaving
/// the rest to the page around them. The root page, which also shows the root set, takes half
/// as many ([`chain`]).
pub(crate) const LINK_BUDGET: usize = PAGE_LIMIT / 2;

/// The characters of a publish path that a link percent-encodes: all but RFC 3986's unreserved
/// ones and `/`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

/// The file name of page `number` (from 1) of the root chain: `index.html`, then
/// `index-2.html`, `index-3.html`, … beside it.
pub(crate) fn chain_page_name(number: usize) -> String {
    if number <= 1 { "index.html".to_string() } else { format!("index-{number}.html") }
}

/// True when `rel` (relative to `out/public/`) is a page of the root chain.
pub(crate) fn is_chain_page(rel: &str) -> bool {
    rel == "index.html"
        || rel
            .strip_prefix("index-")
            .and_then(|r| r.strip_suffix(".html"))
            .is_some_and(|n| !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The relative link from a page of the root chain to the page of the set at `path` (a
/// non-empty publish path): its segments percent-encoded, then `/index.html` (which every
/// static host serves, and `file://` too).
pub(crate) fn set_href(path: &str) -> String {
    format!("{}/index.html", utf8_percent_encode(path, PATH_SEGMENT))
}

/// The relative link from the page of the set at `path` back to the root page.
pub(crate) fn root_href(path: &str) -> String {
    let depth = if path.is_empty() { 0 } else { path.split('/').count() };
    format!("{}index.html", "../".repeat(depth))
}

/// An upper bound of the bytes one link takes in the default page: its href and its text, each
/// HTML-escaped (at most 6 bytes a byte: `/` is `&#x2f;`), and the markup around them.
pub(crate) fn link_cost(path: &str) -> usize {
    12 * path.len() + 64
}

/// One link of a chain page, as the template gets it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// The set's publish path.
    pub(crate) path: String,
    /// The relative link to its page ([`set_href`]).
    pub(crate) href: String,
}

/// Where a page of the root chain is in the chain, as the template gets it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageNav {
    /// Its number, from 1.
    pub(crate) number: usize,
    /// How many pages the chain has.
    pub(crate) count: usize,
    /// The relative link to the page before it, if any.
    pub(crate) previous: Option<String>,
    /// The relative link to the page after it, if any.
    pub(crate) next: Option<String>,
}

impl PageNav {
    /// Page `number` of `count`.
    pub(crate) fn new(number: usize, count: usize) -> PageNav {
        PageNav {
            number,
            count,
            previous: (number > 1).then(|| chain_page_name(number - 1)),
            next: (number < count).then(|| chain_page_name(number + 1)),
        }
    }
}

/// The pages of the root chain for links of these `costs` with a `budget` a page (the root page:
/// half of it), as ranges of the links. With [`LINK_BUDGET`], what the default templates give;
/// the number of pages depends on the publish paths alone.
pub(crate) fn chain(costs: &[usize], budget: usize) -> Vec<Range<usize>> {
    paginate(costs, budget / 2, budget)
}

/// How many pages the root chain has for links of these costs ([`link_cost`] of each publish path
/// but the root set's), with the default templates.
pub(crate) fn chain_page_count_of(costs: &[usize]) -> usize {
    chain(costs, LINK_BUDGET).len()
}

/// Splits links of these `costs` into pages, in order: each page takes links while their costs
/// fit its budget (`first` for page 1, which also holds the root set, `budget` for the others),
/// and at least one. Always one page at least (the root page), empty when there is no link.
pub(crate) fn paginate(costs: &[usize], first: usize, budget: usize) -> Vec<Range<usize>> {
    let mut pages = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, cost) in costs.iter().enumerate() {
        let limit = if pages.is_empty() { first } else { budget };
        if i > start && used + cost > limit {
            pages.push(start..i);
            (start, used) = (i, 0);
        }
        used += cost;
    }
    pages.push(start..costs.len());
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_pages_are_named_beside_the_root_page_and_recognised() {
        assert_eq!([1, 2, 10].map(chain_page_name), ["index.html", "index-2.html", "index-10.html"]);
        for name in ["index.html", "index-2.html", "index-10.html"] {
            assert!(is_chain_page(name), "{name}");
        }
        for name in ["index-.html", "index-02.html", "index-2.htm", "a/index-2.html", "index-x.html", "404.html"] {
            assert!(!is_chain_page(name), "{name}");
        }
    }

    #[test]
    fn links_are_relative_and_percent_encoded() {
        assert_eq!(set_href("tenants/acme"), "tenants/acme/index.html");
        assert_eq!(set_href("a b/#?%/é"), "a%20b/%23%3F%25/%C3%A9/index.html");
        assert_eq!(root_href("tenants/acme"), "../../index.html");
        assert_eq!(root_href("a"), "../index.html");
        assert_eq!(root_href(""), "index.html");
    }

    #[test]
    fn pages_fill_up_to_their_budget_and_take_at_least_one_link() {
        assert_eq!(paginate(&[], 10, 10), vec![Range { start: 0, end: 0 }], "one page, empty");
        assert_eq!(paginate(&[4, 4, 4, 4, 4], 8, 12), [0..2, 2..5]);
        assert_eq!(paginate(&[4, 4, 4], 0, 4), [0..1, 1..2, 2..3], "page 1 full: still one link");
        assert_eq!(paginate(&[20, 1, 1], 10, 10), [0..1, 1..3], "a link over budget has a page to itself");
    }

    #[test]
    fn the_cost_bounds_a_link_of_any_path() {
        let path = "a/&\"<'é %".repeat(20);
        let href = set_href(&path);
        let escaped = |s: &str| s.chars().map(|c| if "<>&\"'/".contains(c) { 6 } else { c.len_utf8() }).sum::<usize>();
        let markup = "<li><a href=\"\"></a></li>\n".len();
        assert!(escaped(&href) + escaped(&path) + markup <= link_cost(&path));
    }
}
