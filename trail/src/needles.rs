//! Texts that an event must contain to be parsed, such as the access key ids of a case.
//!
//! An import keeps only the events of a few credentials, and nearly every event of a large
//! trail belongs to someone else. Searching each event's text for the credentials' key ids and
//! principal names is many times faster than parsing it, so the readers parse only the events
//! that contain one of them.

use memchr::memmem::Finder;

/// A set of texts searched for as bytes in each event's JSON text. See
/// [`crate::ReadOptions::only_containing`].
#[derive(Debug, Clone)]
pub struct Needles {
    finders: Vec<Finder<'static>>,
}

impl Needles {
    /// Builds the set from `texts`, trimmed; empty texts are left out.
    ///
    /// Returns `None` when the set would be empty, or when a text contains a character that a
    /// JSON writer may escape (anything but ASCII letters, digits and ` +=,.@_-:`). A byte search
    /// could then miss an event written with the escape, so such a case must parse every event.
    /// AWS access key ids and IAM user, role and session names never need this. Events that
    /// contain a `\u00` escape, which may spell an ASCII character of a text, are searched as
    /// matches too.
    pub fn new<I, S>(texts: I) -> Option<Needles>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut finders = Vec::new();
        for text in texts {
            let text = text.as_ref().trim();
            if text.is_empty() {
                continue;
            }
            if !text.bytes().all(never_escaped) {
                return None;
            }
            finders.push(Finder::new(text.as_bytes()).into_owned());
        }
        if finders.is_empty() {
            return None;
        }
        // A `\u00` escape may spell a letter or digit of a text, so events with one are parsed.
        finders.push(Finder::new(UNICODE_ESCAPE).into_owned());
        Some(Needles { finders })
    }

    /// Returns whether `text` contains any of the texts.
    pub fn any_in(&self, text: &[u8]) -> bool {
        self.finders.iter().any(|finder| finder.find(text).is_some())
    }

    /// Appends the start of every occurrence of any text in `block` to `positions`, in
    /// ascending order.
    pub(crate) fn positions_in(&self, block: &[u8], positions: &mut Vec<usize>) {
        let first = positions.len();
        for finder in &self.finders {
            positions.extend(finder.find_iter(block));
        }
        if self.finders.len() > 1 {
            positions[first..].sort_unstable();
        }
    }
}

/// Start of a JSON escape of an ASCII character, such as `\u0041` for `A`.
const UNICODE_ESCAPE: &[u8] = b"\\u00";

/// Returns whether JSON writers always write `byte` as itself. Go's encoder escapes `<`, `>` and `&`,
/// and many escape `/`, so only a conservative set counts.
fn never_escaped(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b" +=,.@_-:".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_that_may_be_escaped_disable_the_search() {
        assert!(Needles::new(["AKIAEXAMPLE", "deploy-bot@corp"]).is_some());
        assert!(Needles::new(["AKIAEXAMPLE", "team/admin"]).is_none());
        assert!(Needles::new(["Zoë"]).is_none());
        assert!(Needles::new(["a<b"]).is_none());
        assert!(Needles::new(["", "  "]).is_none());
        assert!(Needles::new(Vec::<String>::new()).is_none());
    }

    #[test]
    fn finds_every_text_in_order() {
        let needles = Needles::new([" KEY2 ", "KEY1"]).unwrap();
        let block = b"xxKEY1yyKEY2zzKEY1";
        let mut positions = Vec::new();
        needles.positions_in(block, &mut positions);
        assert_eq!(positions, [2, 8, 14]);
        assert!(needles.any_in(b"..KEY2.."));
        assert!(!needles.any_in(b"..KEY3.."));
        assert!(needles.any_in(br#""accessKeyId":"\u004bEY1""#), "an escape may spell a text");
    }
}
