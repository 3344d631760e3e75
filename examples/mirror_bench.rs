//! The mirror under a burst (make compare-mirror): run as root inside a private network
//! namespace. A steady pool of entries, then creates, mark updates and deletes from three
//! other processes at once while the mirror follows; at the end the mirror is compared, field
//! by field, with the table (the library's list and `conntrack -L -o id`), and so is a copy
//! built only from its callbacks. With a small receive buffer the kernel must drop events and
//! the mirror must repair itself.
//!
//!     mirror_bench [--buffer BYTES] [--pool N] [--creates N] [--updates N]
//!
//! prints `mirror: events=E overruns=O repairs=R entries=N equal=yes|no replay_equal=yes|no
//! stale_ms=S ... bytes_per_entry=B list_bytes_per_entry=L`, then the slowest repair beside
//! its own dump (made at the same time on the repair's thread), beside a dump of the table
//! on another socket and thread started when the repair was due (so under the same load),
//! and beside one made on another socket right after it; then every repair's four times.
//! The last repair, of the quiet table, has no concurrent dump (it is compared with a dump
//! alone). `each_within_2x_dump` says whether every repair took at most twice its own dump
//! and twice the dump made under the same load (the concurrent one; the last repair's dump
//! after); `each_within_2x_dump_after`, the same against the dump made after each repair,
//! which under the burst ran under another load.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::process::{Command, Stdio};
use std::time::Instant;

use conntrack::batch::{Batch, Op};
use conntrack::mirror::{Change, ChangeKind, Mirror};
use conntrack::{Dir, Entry, Handle, Side};

#[path = "../tests/common/table_rows.rs"]
mod table_rows;
use table_rows::{row, tool_rows, tuple_text, udp, Row};

const CHUNK: u32 = 10_000;
const POOL_ZONE: u16 = 1;
const BURST_ZONE: u16 = 2;

fn send(h: &mut Handle, op: Op, entries: impl Iterator<Item = Entry>) -> usize {
    let mut b = Batch::new();
    for e in entries {
        b.add(op, &e);
    }
    h.send_batch("burst", &mut b).expect("send a batch");
    b.failed()
}

/// `conntrack -L -o id` of the benchmark's namespace, as rows.
fn tool_now() -> BTreeSet<(String, u16, u32, Option<u32>)> {
    let out = Command::new("conntrack")
        .args(["-L", "-o", "id"])
        .stderr(Stdio::null())
        .output()
        .expect("run conntrack -L");
    tool_rows(&String::from_utf8_lossy(&out.stdout))
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Child: creates `n` burst entries chunk by chunk, writing each chunk's number when made.
fn churn_creates(n: u32) {
    let mut h = Handle::open().unwrap();
    let mut out = std::io::stdout();
    for c in 0..n.div_ceil(CHUNK) {
        let range = c * CHUNK..((c + 1) * CHUNK).min(n);
        send(&mut h, Op::Create, range.map(|i| udp(i, BURST_ZONE)));
        writeln!(out, "{c}").unwrap();
        out.flush().unwrap();
    }
}

/// Child: deletes each chunk the creator reports, as it reports it.
fn churn_deletes(n: u32) {
    let mut h = Handle::open().unwrap();
    for line in std::io::stdin().lock().lines() {
        let c: u32 = line.unwrap().trim().parse().unwrap();
        let range = c * CHUNK..((c + 1) * CHUNK).min(n);
        send(&mut h, Op::Delete, range.map(|i| udp(i, BURST_ZONE)));
    }
}

/// Child: `updates` mark changes over the pool, round after round.
fn churn_updates(pool: u32, updates: u32) {
    let mut h = Handle::open().unwrap();
    let mut done = 0;
    let mut round = 1;
    while done < updates {
        let n = (updates - done).min(pool);
        send(
            &mut h,
            Op::Update,
            (0..n).map(|i| {
                let mut e = udp(i, POOL_ZONE);
                e.set_mark(round);
                e
            }),
        );
        done += n;
        round += 1;
    }
}

/// One repair's time, beside its own dump's, a dump of the table made at the same time on
/// another socket, and one made just after it.
struct RepairTime {
    ms: u64,
    own_dump_ms: u64,
    entries: u64,
    concurrent_dump_ms: Option<u64>,
    dump_after_ms: Option<u64>,
}

/// How long one dump of the whole table takes on a socket of its own.
fn dump_ms(h: &mut Handle) -> u64 {
    let start = Instant::now();
    let mut entries = h.entries(None).unwrap();
    while entries.next_entry().unwrap().is_some() {}
    start.elapsed().as_millis() as u64
}

/// A thread that dumps the whole table on a socket of its own when asked, one dump at a
/// time, and says how long each took (tagged with the repair it was asked for).
struct Dumper {
    ask: std::sync::mpsc::Sender<usize>,
    answers: std::sync::mpsc::Receiver<(usize, u64)>,
    busy: bool,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Dumper {
    fn start() -> Dumper {
        let (ask, asked) = std::sync::mpsc::channel::<usize>();
        let (told, answers) = std::sync::mpsc::channel::<(usize, u64)>();
        let thread = std::thread::spawn(move || {
            let mut h = Handle::open().unwrap();
            for i in asked {
                told.send((i, dump_ms(&mut h))).unwrap();
            }
        });
        Dumper {
            ask,
            answers,
            busy: false,
            thread: Some(thread),
        }
    }

    /// Asks for a dump for repair `i` unless one is under way.
    fn request(&mut self, i: usize) {
        if !self.busy {
            self.busy = true;
            self.ask.send(i).unwrap();
        }
    }

    /// The dumps that ended since the last call.
    fn ended(&mut self) -> Vec<(usize, u64)> {
        let got: Vec<_> = self.answers.try_iter().collect();
        if !got.is_empty() {
            self.busy = false;
        }
        got
    }

    fn wait_idle(&mut self) -> Option<(usize, u64)> {
        if !self.busy {
            return None;
        }
        self.busy = false;
        Some(self.answers.recv().unwrap())
    }

    fn stop(mut self) {
        drop(self.ask);
        self.thread.take().unwrap().join().unwrap();
    }
}

/// Dumps of the whole table started when a repair is due, each on a thread and a socket of
/// its own (opened before the clock starts), so that every repair has one even when the
/// previous one is still running.
struct Concurrent {
    told: std::sync::mpsc::Sender<(usize, u64)>,
    answers: std::sync::mpsc::Receiver<(usize, u64)>,
    /// The repair the last dump was started for.
    last: Option<usize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Concurrent {
    fn new() -> Concurrent {
        let (told, answers) = std::sync::mpsc::channel();
        Concurrent {
            told,
            answers,
            last: None,
            threads: Vec::new(),
        }
    }

    fn request(&mut self, i: usize) {
        if self.last == Some(i) {
            return;
        }
        self.last = Some(i);
        let mut h = Handle::open().unwrap();
        let told = self.told.clone();
        self.threads.push(std::thread::spawn(move || {
            told.send((i, dump_ms(&mut h))).unwrap();
        }));
    }

    fn ended(&mut self) -> Vec<(usize, u64)> {
        self.answers.try_iter().collect()
    }

    /// Waits for every dump started; the ones that ended since the last call.
    fn wait_all(&mut self) -> Vec<(usize, u64)> {
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        self.answers.try_iter().collect()
    }
}

/// Repairs as they end, each beside two dumps of the table on other sockets and threads:
/// one started when the repair is due (the step about to run starts it), under the same
/// load, and one asked right after the repair ends, when that thread is free.
struct Timer {
    concurrent: Concurrent,
    after: Dumper,
    /// The concurrent dumps' times by repair, which may end before or after their repair.
    concurrent_ms: Vec<Option<u64>>,
    /// Whether repairs get a concurrent dump (not the quiet one at the end, which is
    /// compared with a dump alone).
    with_concurrent: bool,
    repairs: Vec<RepairTime>,
}

impl Timer {
    fn collect(&mut self) {
        for (i, ms) in self.concurrent.ended() {
            self.note_concurrent(i, ms);
        }
        for (i, ms) in self.after.ended() {
            self.repairs[i].dump_after_ms = Some(ms);
        }
    }

    fn note_concurrent(&mut self, i: usize, ms: u64) {
        if self.concurrent_ms.len() <= i {
            self.concurrent_ms.resize(i + 1, None);
        }
        self.concurrent_ms[i] = Some(ms);
    }

    /// Before a step: when a repair is due, the concurrent dump starts with it.
    fn before_step(&mut self, m: &Mirror) {
        self.collect();
        if self.with_concurrent && m.next_timeout_ms() == 0 {
            self.concurrent.request(self.repairs.len());
        }
    }

    fn after_step(&mut self, s: &conntrack::mirror::MirrorStats) {
        self.collect();
        if s.repairs as usize != self.repairs.len() {
            self.repairs.push(RepairTime {
                ms: s.last_repair_ms,
                own_dump_ms: s.last_repair_dump_ms,
                entries: s.last_repair_entries,
                concurrent_dump_ms: None,
                dump_after_ms: None,
            });
            self.after.request(self.repairs.len() - 1);
        }
    }

    fn wait_idle(&mut self) {
        for (i, ms) in self.concurrent.wait_all() {
            self.note_concurrent(i, ms);
        }
        if let Some((i, ms)) = self.after.wait_idle() {
            self.repairs[i].dump_after_ms = Some(ms);
        }
    }

    /// Every repair with its concurrent dump's time.
    fn finish(mut self) -> Vec<RepairTime> {
        self.wait_idle();
        for (i, t) in self.repairs.iter_mut().enumerate() {
            t.concurrent_dump_ms = self.concurrent_ms.get(i).copied().flatten();
        }
        self.after.stop();
        self.repairs
    }
}

/// A copy built only from the mirror's callbacks, keyed cheaply (the callback runs for every
/// change of the burst).
type Key = (
    Option<IpAddr>,
    Option<IpAddr>,
    Option<u16>,
    Option<u16>,
    u16,
);

/// A multiply-rotate hasher (FxHash's step) for the copy: the benchmark's own tuples are not
/// an attacker's, and the copy must cost little beside the mirror it checks.
#[derive(Default)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..b.len()].copy_from_slice(b);
            self.write_u64(u64::from_ne_bytes(w));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(v.into());
    }
    fn write_u16(&mut self, v: u16) {
        self.write_u64(v.into());
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v.into());
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Default)]
struct Replica(
    std::collections::HashMap<Key, (u32, u32, Option<u32>), std::hash::BuildHasherDefault<Fx>>,
);

impl Replica {
    fn apply(&mut self, c: Change, e: &Entry) {
        let t = e.tuple(Dir::Orig);
        let k = (
            t.addr(Side::Src),
            t.addr(Side::Dst),
            t.port(Side::Src),
            t.port(Side::Dst),
            e.zone().unwrap_or(0),
        );
        match c.kind {
            ChangeKind::New | ChangeKind::Update => {
                self.0.insert(
                    k,
                    (
                        e.mark().unwrap_or(0),
                        e.status().map_or(0, |s| s.bits()),
                        e.id(),
                    ),
                );
            }
            ChangeKind::Destroy => {
                self.0.remove(&k);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize| -> u32 { args[i].parse().expect("a number") };
    match args.get(1).map(String::as_str) {
        Some("churn-creates") => return churn_creates(num(2)),
        Some("churn-deletes") => return churn_deletes(num(2)),
        Some("churn-updates") => return churn_updates(num(2), num(3)),
        _ => {}
    }
    let (mut buffer, mut pool, mut creates, mut updates) =
        (None, 100_000u32, 1_000_000u32, 500_000u32);
    let mut i = 1;
    while i + 1 < args.len() {
        let v: usize = args[i + 1].parse().expect("a number");
        match args[i].as_str() {
            "--buffer" => buffer = Some(v),
            "--pool" => pool = v as u32,
            "--creates" => creates = v as u32,
            "--updates" => updates = v as u32,
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }

    let mut h = Handle::open().expect("open (as root, in the benchmark's namespace)");
    h.flush().unwrap();
    // Events for every entry, also those made before the mirror subscribed (a namespace
    // may start with nf_conntrack_events=2, where they would report none).
    std::fs::write("/proc/sys/net/netfilter/nf_conntrack_events", "1")
        .expect("set nf_conntrack_events=1 in the benchmark's namespace");
    for c in 0..pool.div_ceil(CHUNK) {
        let range = c * CHUNK..((c + 1) * CHUNK).min(pool);
        assert_eq!(
            send(&mut h, Op::Create, range.map(|i| udp(i, POOL_ZONE))),
            0
        );
    }

    let before = rss_kib();
    let mut m = Mirror::open(None).unwrap();
    if let Some(b) = buffer {
        m.set_receive_buffer(b).unwrap();
    }
    let mut r = Replica::default();
    // Every repair's time beside its own dump's (on the repair's thread, at the same time),
    // beside a dump of the table on another socket started with it, and beside one made
    // right after it, when that dumper was free: a repair must finish within 2 x the time of
    // one dump of the table under the same load.
    let mut timer = Timer {
        concurrent: Concurrent::new(),
        after: Dumper::start(),
        concurrent_ms: Vec::new(),
        with_concurrent: true,
        repairs: Vec::new(),
    };
    let step = |m: &mut Mirror, r: &mut Replica, t: &mut Timer, wait: i32| -> usize {
        t.before_step(m);
        let n = m.step(wait, |c, e| {
            r.apply(c, e);
            ControlFlow::Continue(())
        });
        let n = n.expect("mirror step");
        t.after_step(&m.stats());
        n
    };
    step(&mut m, &mut r, &mut timer, 0);
    // The load's own comparison dump, before the burst begins.
    timer.wait_idle();
    let loaded_kib = rss_kib().saturating_sub(before);

    let me = std::env::current_exe().unwrap();
    let mut creator = Command::new(&me)
        .args(["churn-creates", &creates.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut deleter = Command::new(&me)
        .args(["churn-deletes", &creates.to_string()])
        .stdin(Stdio::from(creator.stdout.take().unwrap()))
        .spawn()
        .unwrap();
    let mut updater = Command::new(&me)
        .args(["churn-updates", &pool.to_string(), &updates.to_string()])
        .spawn()
        .unwrap();
    let mut running = 3;
    while running > 0 {
        step(&mut m, &mut r, &mut timer, 10);
        running = [&mut creator, &mut deleter, &mut updater]
            .into_iter()
            .filter_map(|c| c.try_wait().unwrap().is_none().then_some(()))
            .count();
    }
    for c in [&mut creator, &mut deleter, &mut updater] {
        assert!(c.wait().unwrap().success(), "a churn process failed");
    }
    // Every event of what happened is queued or reported lost by now: settle.
    loop {
        let wait = m.next_timeout_ms();
        let n = step(
            &mut m,
            &mut r,
            &mut timer,
            if wait > 0 { wait as i32 } else { 0 },
        );
        if n == 0 && !m.stats().stale && m.next_timeout_ms() < 0 {
            break;
        }
    }

    // One repair of the quiet table, beside one dump of it: what a repair adds to the dump.
    timer.wait_idle();
    timer.with_concurrent = false;
    let start = Instant::now();
    m.request_repair();
    step(&mut m, &mut r, &mut timer, 0);
    let quiet_repair_ms = start.elapsed().as_millis();
    timer.wait_idle();
    let start = Instant::now();
    let listed = h.list(None).unwrap();
    let dump_ms = start.elapsed().as_millis();
    let mine: BTreeSet<Row> = m.iter().map(row).collect();
    let theirs: BTreeSet<Row> = listed.iter().map(row).collect();
    let tool: BTreeSet<_> = m
        .iter()
        .map(|e| {
            (
                tuple_text(e),
                e.zone().unwrap_or(0),
                e.mark().unwrap_or(0),
                e.id(),
            )
        })
        .collect();
    let equal = mine == theirs && tool == tool_now();
    let replay: BTreeSet<Row> =
        r.0.iter()
            .map(|((src, dst, sp, dp, zone), (mark, status, id))| {
                let text = format!(
                    "{} {} {} {}",
                    src.unwrap(),
                    dst.unwrap(),
                    sp.unwrap_or(0),
                    dp.unwrap_or(0)
                );
                (text, *zone, *mark, *status, *id)
            })
            .collect();
    let replay_equal = replay == mine;
    let dump_ns = dump_ms as f64 * 1e6 / listed.len().max(1) as f64;
    let s = m.stats();
    let yes = |b: bool| if b { "yes" } else { "no" };
    let per_entry = m.memory() / m.len().max(1);
    println!(
        "mirror: events={} overruns={} repairs={} entries={} equal={} replay_equal={} \
         stale_ms={} quiet_repair_ms={quiet_repair_ms} dump_ms={dump_ms} \
         repair_over_dump={:.2} dump_ns_per_entry={:.0} \
         bytes_per_entry={per_entry} list_bytes_per_entry={} loaded_rss_kib={loaded_kib}",
        s.events,
        s.overruns,
        s.repairs,
        m.len(),
        yes(equal),
        yes(replay_equal),
        s.stale_ms,
        quiet_repair_ms as f64 / dump_ms.max(1) as f64,
        dump_ns,
        std::mem::size_of::<Entry>(),
    );
    // Each repair against its own dump (same time, its own thread) and against one dump of
    // the table under the same load: the dump on another socket started with it (the quiet
    // last repair, which has none, against the dump right after it, also quiet). The dump
    // made after a repair under the burst runs under another load (the burst may have
    // ended, or the concurrent dump no longer runs), so it is printed with a verdict of its
    // own, not the target's.
    let repairs = timer.finish();
    let over = |ms: u64, dump: u64| ms as f64 / dump.max(1) as f64;
    let same_load = |t: &RepairTime| t.concurrent_dump_ms.or(t.dump_after_ms);
    let within = |t: &RepairTime| {
        t.ms <= 2 * t.own_dump_ms.max(1) && same_load(t).map_or(true, |d| t.ms <= 2 * d.max(1))
    };
    let within_after = |t: &RepairTime| t.dump_after_ms.map_or(true, |d| t.ms <= 2 * d.max(1));
    let worst = |dump: &dyn Fn(&RepairTime) -> Option<u64>| {
        repairs
            .iter()
            .filter_map(|t| dump(t).map(|d| over(t.ms, d)))
            .fold(0.0, f64::max)
    };
    let ms = |d: Option<u64>| d.map_or_else(|| "-".to_string(), |d| d.to_string());
    let slowest = repairs.iter().max_by_key(|t| t.ms).unwrap();
    println!(
        "repairs: slowest_ms={} entries={} its_dump_ms={} concurrent_dump_ms={} \
         dump_after_ms={} worst_over_its_dump={:.2} worst_over_concurrent_dump={:.2} \
         worst_over_dump_after={:.2} each_within_2x_dump={} each_within_2x_dump_after={}",
        slowest.ms,
        slowest.entries,
        slowest.own_dump_ms,
        ms(slowest.concurrent_dump_ms),
        ms(slowest.dump_after_ms),
        worst(&|t| Some(t.own_dump_ms)),
        worst(&|t| t.concurrent_dump_ms),
        worst(&|t| t.dump_after_ms),
        yes(repairs.iter().all(within)),
        yes(repairs.iter().all(within_after)),
    );
    let times: Vec<String> = repairs
        .iter()
        .map(|t| {
            format!(
                "{}/{}/{}/{}",
                t.ms,
                t.own_dump_ms,
                ms(t.concurrent_dump_ms),
                ms(t.dump_after_ms)
            )
        })
        .collect();
    println!(
        "repair_ms/its_dump_ms/concurrent_dump_ms/dump_after_ms: {}",
        times.join(" ")
    );
    if !equal || !replay_equal {
        let tool_now = tool_now();
        for (what, a, b) in [
            ("mirror, not listed", &mine, &theirs),
            ("listed, not in the mirror", &theirs, &mine),
        ] {
            for x in a.difference(b).take(5) {
                eprintln!("{what}: {x:?}");
            }
        }
        for x in tool.symmetric_difference(&tool_now).take(5) {
            eprintln!("mirror vs conntrack -L differ: {x:?}");
        }
        std::process::exit(1);
    }
}
