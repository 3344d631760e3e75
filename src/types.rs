//! Typed names for the numbers the kernel uses: layer-4 protocols, the TCP, SCTP and DCCP
//! states, the status bits and the event types. Each converts to and from the kernel's
//! number, so the typed and the numeric forms of the API say the same thing.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

use crate::entry::{proto, DCCP_STATES, SCTP_STATES, TCP_STATES};

/// A layer-4 protocol, by its IP protocol number.
///
/// ```
/// use conntrack::Protocol;
/// assert_eq!(u8::from(Protocol::Udp), 17);
/// assert_eq!(Protocol::from(132), Protocol::Sctp);
/// assert_eq!(Protocol::from(250), Protocol::Other(250));
/// assert!(Protocol::Tcp.has_ports() && !Protocol::Icmp.has_ports());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// ICMP (1).
    Icmp,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// DCCP (33).
    Dccp,
    /// GRE (47); its keys stand where ports would.
    Gre,
    /// ICMPv6 (58).
    IcmpV6,
    /// SCTP (132).
    Sctp,
    /// UDP-Lite (136).
    UdpLite,
    /// Any other protocol number.
    Other(u8),
}

impl Protocol {
    /// Whether the protocol's tuples carry ports (GRE: keys).
    pub fn has_ports(self) -> bool {
        proto::has_ports(self.into())
    }

    /// Whether the tuples carry ICMP type, code and id instead of ports.
    pub fn is_icmp(self) -> bool {
        proto::is_icmp(self.into())
    }
}

impl From<u8> for Protocol {
    fn from(n: u8) -> Protocol {
        match n {
            proto::ICMP => Protocol::Icmp,
            proto::TCP => Protocol::Tcp,
            proto::UDP => Protocol::Udp,
            proto::DCCP => Protocol::Dccp,
            proto::GRE => Protocol::Gre,
            proto::ICMPV6 => Protocol::IcmpV6,
            proto::SCTP => Protocol::Sctp,
            proto::UDPLITE => Protocol::UdpLite,
            n => Protocol::Other(n),
        }
    }
}

impl From<Protocol> for u8 {
    fn from(p: Protocol) -> u8 {
        match p {
            Protocol::Icmp => proto::ICMP,
            Protocol::Tcp => proto::TCP,
            Protocol::Udp => proto::UDP,
            Protocol::Dccp => proto::DCCP,
            Protocol::Gre => proto::GRE,
            Protocol::IcmpV6 => proto::ICMPV6,
            Protocol::Sctp => proto::SCTP,
            Protocol::UdpLite => proto::UDPLITE,
            Protocol::Other(n) => n,
        }
    }
}

/// A state enum numbered as the kernel numbers it, with its `conntrack -L` name.
macro_rules! states {
    ($(#[$doc:meta])* $name:ident, $table:ident, $what:literal, [$($(#[$vdoc:meta])* $v:ident = $n:literal,)*]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vdoc])* $v = $n,)*
        }

        impl $name {
            /// The name `conntrack -L` prints.
            pub fn name(self) -> &'static str {
                $table[self as usize]
            }
        }

        impl From<$name> for u8 {
            fn from(s: $name) -> u8 {
                s as u8
            }
        }

        impl TryFrom<u8> for $name {
            type Error = crate::Error;

            fn try_from(n: u8) -> crate::Result<$name> {
                match n {
                    $($n => Ok($name::$v),)*
                    _ => Err(crate::Error::invalid(format!(
                        concat!($what, " state {} is unknown (0..9)"),
                        n
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

states!(
    /// A TCP connection's state (the kernel's TCP_CONNTRACK_*).
    ///
    /// ```
    /// use conntrack::TcpState;
    /// assert_eq!(TcpState::try_from(3).unwrap(), TcpState::Established);
    /// assert_eq!(TcpState::TimeWait.to_string(), "TIME_WAIT");
    /// assert!(TcpState::try_from(10).is_err());
    /// ```
    TcpState, TCP_STATES, "TCP", [
    /// NONE.
    None = 0,
    /// SYN_SENT.
    SynSent = 1,
    /// SYN_RECV.
    SynRecv = 2,
    /// ESTABLISHED.
    Established = 3,
    /// FIN_WAIT.
    FinWait = 4,
    /// CLOSE_WAIT.
    CloseWait = 5,
    /// LAST_ACK.
    LastAck = 6,
    /// TIME_WAIT.
    TimeWait = 7,
    /// CLOSE.
    Close = 8,
    /// SYN_SENT2 (simultaneous open).
    SynSent2 = 9,
]);

states!(
    /// An SCTP association's state (the kernel's SCTP_CONNTRACK_*).
    SctpState, SCTP_STATES, "SCTP", [
    /// NONE.
    None = 0,
    /// CLOSED.
    Closed = 1,
    /// COOKIE_WAIT.
    CookieWait = 2,
    /// COOKIE_ECHOED.
    CookieEchoed = 3,
    /// ESTABLISHED.
    Established = 4,
    /// SHUTDOWN_SENT.
    ShutdownSent = 5,
    /// SHUTDOWN_RECD.
    ShutdownRecd = 6,
    /// SHUTDOWN_ACK_SENT.
    ShutdownAckSent = 7,
    /// HEARTBEAT_SENT.
    HeartbeatSent = 8,
    /// HEARTBEAT_ACKED.
    HeartbeatAcked = 9,
]);

states!(
    /// A DCCP connection's state (the kernel's CT_DCCP_*).
    DccpState, DCCP_STATES, "DCCP", [
    /// NONE.
    None = 0,
    /// REQUEST.
    Request = 1,
    /// RESPOND.
    Respond = 2,
    /// PARTOPEN.
    PartOpen = 3,
    /// OPEN.
    Open = 4,
    /// CLOSEREQ.
    CloseReq = 5,
    /// CLOSING.
    Closing = 6,
    /// TIMEWAIT.
    TimeWait = 7,
    /// IGNORE.
    Ignore = 8,
    /// INVALID.
    Invalid = 9,
]);

/// An entry's status bits (the kernel's IPS_*), as a set.
///
/// ```
/// use conntrack::Status;
/// let s = Status::ASSURED | Status::SEEN_REPLY;
/// assert!(s.contains(Status::ASSURED) && !s.contains(Status::DYING));
/// assert_eq!(s.bits(), 6);
/// assert_eq!(format!("{s:?}"), "Status(SEEN_REPLY | ASSURED)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Status(u32);

/// Every named bit, in order, with its name.
const STATUS_NAMES: [(Status, &str); 16] = [
    (Status::EXPECTED, "EXPECTED"),
    (Status::SEEN_REPLY, "SEEN_REPLY"),
    (Status::ASSURED, "ASSURED"),
    (Status::CONFIRMED, "CONFIRMED"),
    (Status::SRC_NAT, "SRC_NAT"),
    (Status::DST_NAT, "DST_NAT"),
    (Status::SEQ_ADJUST, "SEQ_ADJUST"),
    (Status::SRC_NAT_DONE, "SRC_NAT_DONE"),
    (Status::DST_NAT_DONE, "DST_NAT_DONE"),
    (Status::DYING, "DYING"),
    (Status::FIXED_TIMEOUT, "FIXED_TIMEOUT"),
    (Status::TEMPLATE, "TEMPLATE"),
    (Status::UNTRACKED, "UNTRACKED"),
    (Status::HELPER, "HELPER"),
    (Status::OFFLOAD, "OFFLOAD"),
    (Status::HW_OFFLOAD, "HW_OFFLOAD"),
];

impl Status {
    /// An expected connection (a helper's expectation matched).
    pub const EXPECTED: Status = Status(crate::entry::status::EXPECTED);
    /// Packets were seen in both directions.
    pub const SEEN_REPLY: Status = Status(crate::entry::status::SEEN_REPLY);
    /// Assured: never dropped early to make room.
    pub const ASSURED: Status = Status(crate::entry::status::ASSURED);
    /// Confirmed: in the table.
    pub const CONFIRMED: Status = Status(crate::entry::status::CONFIRMED);
    /// Source NAT applies.
    pub const SRC_NAT: Status = Status(crate::entry::status::SRC_NAT);
    /// Destination NAT applies.
    pub const DST_NAT: Status = Status(crate::entry::status::DST_NAT);
    /// TCP sequence numbers are adjusted.
    pub const SEQ_ADJUST: Status = Status(crate::entry::status::SEQ_ADJUST);
    /// Source NAT set up.
    pub const SRC_NAT_DONE: Status = Status(crate::entry::status::SRC_NAT_DONE);
    /// Destination NAT set up.
    pub const DST_NAT_DONE: Status = Status(crate::entry::status::DST_NAT_DONE);
    /// Being destroyed.
    pub const DYING: Status = Status(crate::entry::status::DYING);
    /// The timeout is fixed.
    pub const FIXED_TIMEOUT: Status = Status(crate::entry::status::FIXED_TIMEOUT);
    /// A template, not a connection.
    pub const TEMPLATE: Status = Status(crate::entry::status::TEMPLATE);
    /// Untracked.
    pub const UNTRACKED: Status = Status(crate::entry::status::UNTRACKED);
    /// A helper was attached explicitly.
    pub const HELPER: Status = Status(crate::entry::status::HELPER);
    /// Offloaded to a flowtable.
    pub const OFFLOAD: Status = Status(crate::entry::status::OFFLOAD);
    /// Offloaded to hardware.
    pub const HW_OFFLOAD: Status = Status(crate::entry::status::HW_OFFLOAD);

    /// The set of the bits in `bits`, named or not (newer kernels may add bits).
    pub const fn from_bits_retain(bits: u32) -> Status {
        Status(bits)
    }

    /// The bits, as the kernel numbers them.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set here.
    pub const fn contains(self, other: Status) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl From<u32> for Status {
    fn from(bits: u32) -> Status {
        Status(bits)
    }
}

impl From<Status> for u32 {
    fn from(s: Status) -> u32 {
        s.0
    }
}

impl BitOr for Status {
    type Output = Status;

    fn bitor(self, o: Status) -> Status {
        Status(self.0 | o.0)
    }
}

impl BitOrAssign for Status {
    fn bitor_assign(&mut self, o: Status) {
        self.0 |= o.0;
    }
}

impl BitAnd for Status {
    type Output = Status;

    fn bitand(self, o: Status) -> Status {
        Status(self.0 & o.0)
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<String> = STATUS_NAMES
            .iter()
            .filter(|(s, _)| self.contains(*s))
            .map(|(_, n)| n.to_string())
            .collect();
        let unnamed = self.0 & !STATUS_NAMES.iter().fold(0, |a, (s, _)| a | s.0);
        if unnamed != 0 {
            names.push(format!("{unnamed:#x}"));
        }
        write!(f, "Status({})", names.join(" | "))
    }
}

/// What an event reports.
///
/// ```
/// use conntrack::EventType;
/// assert_eq!(EventType::from_bit(4), Some(EventType::Destroy));
/// assert_eq!(EventType::New.bit() | EventType::Update.bit() | EventType::Destroy.bit(), EventType::ALL);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A new entry.
    New,
    /// An entry changed.
    Update,
    /// An entry was destroyed.
    Destroy,
}

impl EventType {
    /// Every event type, as the mask [`crate::events::Listener::open`] takes.
    pub const ALL: u32 = crate::events::EVENT_ALL;

    /// The type's bit in a subscription mask (and the number a callback receives).
    pub fn bit(self) -> u32 {
        match self {
            EventType::New => crate::events::EVENT_NEW,
            EventType::Update => crate::events::EVENT_UPDATE,
            EventType::Destroy => crate::events::EVENT_DESTROY,
        }
    }

    /// The type whose bit is `bit`; None for anything else.
    pub fn from_bit(bit: u32) -> Option<EventType> {
        [EventType::New, EventType::Update, EventType::Destroy]
            .into_iter()
            .find(|t| t.bit() == bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_maps_back() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(Protocol::from(n)), n);
            if let Ok(s) = TcpState::try_from(n) {
                assert_eq!((u8::from(s), s.name()), (n, TCP_STATES[usize::from(n)]));
            }
            if let Ok(s) = SctpState::try_from(n) {
                assert_eq!(s.name(), SCTP_STATES[usize::from(n)]);
            }
            if let Ok(s) = DccpState::try_from(n) {
                assert_eq!(s.name(), DCCP_STATES[usize::from(n)]);
            }
        }
        assert_eq!(TcpState::try_from(9).unwrap(), TcpState::SynSent2);
        assert!(SctpState::try_from(10).is_err() && DccpState::try_from(10).is_err());
        let all = STATUS_NAMES
            .iter()
            .fold(Status::default(), |a, (s, _)| a | *s);
        assert_eq!(all.bits(), 0xffff);
        assert_eq!(
            format!("{:?}", Status::from_bits_retain(1 << 20 | 1)),
            "Status(EXPECTED | 0x100000)"
        );
    }
}
