//! Connection labels by name: the bit numbers and names of connlabel.conf
//! (/etc/xtables/connlabel.conf by default), as `conntrack -l` and `-o labels` use them.

use crate::error::{Error, Kind, Result};

/// Where the system keeps its label names.
pub const DEFAULT_PATH: &str = "/etc/xtables/connlabel.conf";

/// The names of the 128 label bits, as connlabel.conf gives them.
///
/// ```
/// let map = conntrack::LabelMap::parse("0 web\n5 blocked\n");
/// assert_eq!(map.bit("blocked"), Some(5));
/// assert_eq!(map.name(0), Some("web"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelMap {
    names: Vec<String>,
}

impl LabelMap {
    /// Parses connlabel.conf text: one "BIT NAME" per line, `#` starts a comment; lines that
    /// are not of that form are skipped, as libnetfilter_conntrack does.
    pub fn parse(text: &str) -> LabelMap {
        let mut names = vec![String::new(); 128];
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            let (Some(bit), Some(name)) = (words.next(), words.next()) else {
                continue;
            };
            if let Ok(b) = bit.parse::<usize>() {
                if b < 128 && names[b].is_empty() {
                    names[b] = name.to_string();
                }
            }
        }
        while names.last().is_some_and(|n| n.is_empty()) {
            names.pop();
        }
        LabelMap { names }
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &str) -> Result<LabelMap> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let err = Error::io(&format!("label names {path}"), &e);
            if e.kind() == std::io::ErrorKind::NotFound {
                err.with_kind(Kind::NotFound)
            } else {
                err
            }
        })?;
        Ok(LabelMap::parse(&text))
    }

    /// The bit named `name`.
    pub fn bit(&self, name: &str) -> Option<u32> {
        self.names
            .iter()
            .position(|n| !n.is_empty() && n == name)
            .map(|b| b as u32)
    }

    /// The bit named `name`; NotFound when no bit has that name.
    pub fn bit_named(&self, name: &str) -> Result<u32> {
        self.bit(name)
            .ok_or_else(|| Error::new(Kind::NotFound, format!("no label is named '{name}'")))
    }

    /// The name of `bit`, if it has one.
    pub fn name(&self, bit: u32) -> Option<&str> {
        self.names
            .get(bit as usize)
            .map(String::as_str)
            .filter(|n| !n.is_empty())
    }

    /// The names by bit, as the text form takes them ("" for a bit without a name).
    pub fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_connlabel_conf() {
        let m = LabelMap::parse(
            "# names\n0 zero\n5 five # comment\nbogus line\n127 last\n200 out\n5 again\n",
        );
        assert_eq!(m.bit("five"), Some(5));
        assert_eq!(m.name(127), Some("last"));
        assert_eq!(m.name(1), None);
        assert_eq!(m.bit("again"), None, "the first name of a bit wins");
        assert_eq!(m.bit("out"), None);
        assert_eq!(m.names().len(), 128);
        assert!(
            LabelMap::load("/nonexistent/connlabel.conf")
                .unwrap_err()
                .kind
                == Kind::NotFound
        );
    }
}
