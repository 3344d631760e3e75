//! What the running kernel's ctnetlink accepts. Version numbers are a floor, not proof
//! (distributions backport), so every filter is also applied in the library.

/// Features of the kernel a handle talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel {
    /// (major, minor) parsed from the release string; (0, 0) when unknown.
    pub version: (u32, u32),
    /// Set when a dump that asked the kernel for one zone brought back another: whatever the
    /// version says (a backport gone wrong, a patched kernel), this kernel does not filter
    /// zones, and the report says so.
    pub zone_filter_disproved: bool,
}

impl Kernel {
    /// The kernel described by a release string such as "6.1.0-26-amd64".
    pub fn from_release(release: &str) -> Kernel {
        let mut it = release
            .split(|c: char| !c.is_ascii_digit())
            .map(|s| s.parse::<u32>().ok());
        let major = it.next().flatten().unwrap_or(0);
        let minor = it.next().flatten().unwrap_or(0);
        Kernel {
            version: (major, minor),
            zone_filter_disproved: false,
        }
    }

    /// The running kernel.
    pub fn running() -> Kernel {
        Kernel::from_release(&crate::sys::kernel_release())
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version >= (major, minor)
    }

    /// A dump carrying CTA_ZONE is filtered by zone (6.8; before, the zone is ignored), and
    /// no dump has shown otherwise.
    pub fn zone_dump_filter(&self) -> bool {
        self.at_least(6, 8) && !self.zone_filter_disproved
    }

    /// A dump carrying CTA_FILTER with original-tuple flags is filtered by that tuple (5.8).
    pub fn tuple_dump_filter(&self) -> bool {
        self.at_least(5, 8)
    }

    /// Reply-tuple flags of CTA_FILTER are honoured (5.16; earlier kernels used the original
    /// flags for the reply tuple).
    pub fn reply_tuple_dump_filter(&self) -> bool {
        self.at_least(5, 16)
    }

    /// A flush (DELETE without a tuple) honours CTA_FILTER, zone, mark and status: 6.12.
    /// Before, the same request flushes more than asked (a zone-only flush empties every zone
    /// before 6.8) or fails, so the library never sends it there.
    pub fn filtered_flush(&self) -> bool {
        self.at_least(6, 12)
    }

    /// A dump carrying CTA_STATUS and CTA_STATUS_MASK is filtered by status (5.15).
    pub fn status_dump_filter(&self) -> bool {
        self.at_least(5, 15)
    }
}

impl Kernel {
    /// A report of what the library found, one "feature: yes|no" line each, for logs and bug
    /// reports.
    pub fn report(&self) -> String {
        let yn = |b: bool| if b { "yes" } else { "no" };
        let (major, minor) = self.version;
        let zone = match (self.at_least(6, 8), self.zone_filter_disproved) {
            (true, true) => "no (a dump returned other zones)",
            (v, _) => yn(v),
        };
        format!(
            "kernel: {major}.{minor}\n\
             zone filter: {zone}\n\
             tuple filter (CTA_FILTER) on dump: {}\n\
             reply tuple filter on dump: {}\n\
             status filter on dump: {}\n\
             filtered flush: {}\n\
             mark flush without mask: {}\n",
            yn(self.tuple_dump_filter()),
            yn(self.reply_tuple_dump_filter()),
            yn(self.status_dump_filter()),
            yn(self.filtered_flush()),
            yn(self.at_least(5, 8)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_strings() {
        assert_eq!(Kernel::from_release("6.1.0-26-amd64").version, (6, 1));
        assert_eq!(Kernel::from_release("6.18.44-fc").version, (6, 18));
        assert_eq!(Kernel::from_release("garbage").version, (0, 0));
        assert!(!Kernel::from_release("6.1.0").zone_dump_filter());
        assert!(Kernel::from_release("6.8.0").zone_dump_filter());
        assert!(Kernel::from_release("5.15.0").status_dump_filter());
        assert!(!Kernel::from_release("6.11.9").filtered_flush());
        assert!(Kernel::from_release("6.12.0").filtered_flush());
        let mut k = Kernel::from_release("6.18.0");
        assert!(k.report().contains("zone filter: yes\n"));
        k.zone_filter_disproved = true;
        assert!(!k.zone_dump_filter());
        assert!(k.report().contains("zone filter: no"));
        assert!(Kernel::from_release("6.1.0")
            .report()
            .contains("zone filter: no\n"));
    }
}
