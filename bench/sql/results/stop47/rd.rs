// Load 200k runner-like rows, CREATE INDEX on k, then repeat one read workload.
use sealdb::storage::{StorageOptions, SyncMode};
use sealdb::{Db, KeyBytes, MemoryKeyProvider, Options, UnencryptedKeyProvider};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&a[2]);
    let what = a[3].clone();
    let reps: usize = a[4].parse().unwrap();
    let n: i64 = 200_000;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let o = Options { storage: StorageOptions { sync: SyncMode::Normal, block_cache_bytes: 64<<20, block_bytes: 4096, ..StorageOptions::default() }, ..Options::default() };
    let db = if a[1] == "aes" { Db::open_with(&dir, MemoryKeyProvider::new(KeyBytes::from_slice(&[0x42;32])).unwrap(), o.clone()) } else { Db::open_with(&dir, UnencryptedKeyProvider::dangerous_new(), o.clone()) }.unwrap();
    let s = db.root_session();
    s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)", &[]).unwrap();
    let st = s.prepare("INSERT INTO t (id, k, v) VALUES (?, ?, ?)").unwrap();
    let mut x: u64 = 1;
    let mut rnd = move |m: u64| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x % m };
    let al = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut ks = Vec::new();
    let tl = std::time::Instant::now();
    // SINGLE: 20k single-row commits (autocommit INSERTs; the runner's single_commits workload has 1k).
    if std::env::var_os("SINGLE").is_some() {
        for id in 1..=20_000i64 {
            let k = rnd(n as u64) as i64;
            let v: String = (0..100).map(|_| al[rnd(62) as usize] as char).collect();
            st.execute(&[&id, &k, &v.as_str()]).unwrap();
        }
        eprintln!("single {:?}", tl.elapsed());
        return;
    }
    // LOAD100: the rows in transactions of 100 (the runner's txn100 workload: 100k rows).
    if std::env::var_os("LOAD100").is_some() {
        for id in 1..=n / 2 {
            if id % 100 == 1 { s.execute("BEGIN", &[]).unwrap(); }
            let k = rnd(n as u64) as i64;
            let v: String = (0..100).map(|_| al[rnd(62) as usize] as char).collect();
            st.execute(&[&id, &k, &v.as_str()]).unwrap();
            if id % 100 == 0 { s.execute("COMMIT", &[]).unwrap(); }
        }
        eprintln!("load100 {:?}", tl.elapsed());
        return;
    }
    s.execute("BEGIN", &[]).unwrap();
    for id in 1..=n {
        let k = rnd(n as u64) as i64;
        ks.push(k);
        let v: String = (0..100).map(|_| al[rnd(62) as usize] as char).collect();
        st.execute(&[&id, &k, &v.as_str()]).unwrap();
    }
    s.execute("COMMIT", &[]).unwrap();
    eprintln!("load {:?}", tl.elapsed());
    if what == "load" { eprintln!("per rep {:?}", tl.elapsed()); return; }
    if what == "open" {
        drop(st); drop(s); drop(db);
        if std::env::var_os("WARM").is_some() {
            let wd = std::path::PathBuf::from("/dev/shm/rdwarm");
            let t = std::time::Instant::now();
            if std::env::var_os("WARMSAME").is_some() {
                let db = Db::open_with(&dir, UnencryptedKeyProvider::dangerous_new(), o.clone()).unwrap();
                drop(db);
            } else {
                let _ = std::fs::remove_dir_all(&wd);
                let db = Db::open_with(&wd, UnencryptedKeyProvider::dangerous_new(), o.clone()).unwrap();
                let s = db.root_session();
                s.execute("CREATE TABLE w (id INTEGER PRIMARY KEY, v TEXT)", &[]).unwrap();
                s.execute("INSERT INTO w VALUES (1, 'x')", &[]).unwrap();
                drop(s); drop(db);
                let db = Db::open_with(&wd, UnencryptedKeyProvider::dangerous_new(), o.clone()).unwrap();
                let s = db.root_session();
                let q = s.prepare("SELECT v FROM w WHERE id = ?").unwrap();
                let mut r = q.query(&[&1i64]).unwrap();
                let _ = r.step().unwrap();
            }
            eprintln!("warm {:?}", t.elapsed());
        }
        for r in 0..reps {
            if r == 0 { eprintln!("MARK reopen"); }
            let minflt = || -> u64 { let st = std::fs::read_to_string("/proc/self/stat").unwrap(); let rest = &st[st.rfind(')').unwrap() + 2..]; rest.split(' ').nth(7).unwrap().parse().unwrap() };
            let f0 = minflt();
            let t = std::time::Instant::now();
            let db = if a[1] == "aes" { Db::open_with(&dir, MemoryKeyProvider::new(KeyBytes::from_slice(&[0x42;32])).unwrap(), o.clone()) } else { Db::open_with(&dir, UnencryptedKeyProvider::dangerous_new(), o.clone()) }.unwrap();
            let t1 = t.elapsed();
            let s = db.root_session();
            let tp = t.elapsed();
            let q = s.prepare("SELECT v FROM t WHERE id = ?").unwrap();
            let tq = t.elapsed();
            let mut r2 = q.query(&[&777i64]).unwrap();
            let tr = t.elapsed();
            let row = r2.step().unwrap().unwrap();
            eprintln!("TQ session {:?} prepared {:?} queried {:?} stepped {:?}", tp, tq, tr, t.elapsed());
            let v: String = row.get(0).unwrap();
            let t2 = t.elapsed();
            if r == 0 { eprintln!("MARK done"); }
            let f1 = minflt();
            eprintln!("open {:?} +query {:?} ({}) minflt {}", t1, t2, v.len(), f1 - f0);
            drop(r2); drop(q); drop(s); drop(db);
        }
        return;
    }
    let tc = std::time::Instant::now();
    s.execute("CREATE INDEX tk ON t(k)", &[]).unwrap();
    eprintln!("create index {:?}", tc.elapsed());
    if std::env::var_os("SETTLE").is_some() { std::thread::sleep(std::time::Duration::from_secs(3)); }
    // WAITFLUSH: until no memtable is waiting to be flushed (under valgrind a
    // fixed sleep does not tell how far the background flush got).
    if std::env::var_os("WAITFLUSH").is_some() { while db.engine().stats().immutable_memtables > 0 { std::thread::sleep(std::time::Duration::from_millis(100)); } }
    { let st = db.engine().stats(); eprintln!("levels {:?} mem {} imm {}", st.levels.iter().map(|l| (l.files, l.bytes)).collect::<Vec<_>>(), st.memtable_bytes, st.immutable_memtables); }
    let look: Vec<i64> = (0..10000).map(|_| ks[rnd(n as u64) as usize]).collect();
    let t = std::time::Instant::now();
    let mut sum = 0i64;
    for _ in 0..reps {
        match what.as_str() {
            "agg" => { let mut r = s.query("SELECT COUNT(*), SUM(k), SUM(LENGTH(v)) FROM t", &[]).unwrap(); let row = r.next().unwrap().unwrap(); let c: i64 = row.get(2).unwrap(); sum += c; }
            "scan" => { let mut r = s.query("SELECT id, v FROM t", &[]).unwrap(); while let Some(row) = r.step().unwrap() { let id: i64 = row.get(0).unwrap(); let v: String = row.get(1).unwrap(); sum += id + v.len() as i64; } }
            "idx" => { let q = s.prepare("SELECT id, v FROM t WHERE k = ?").unwrap(); let mut tb = std::time::Instant::now(); let mut bk = Vec::new(); for (j, k) in look.iter().enumerate() { if j % 1000 == 999 { bk.push(format!("{:.1}", tb.elapsed().as_secs_f64()*1e3)); tb = std::time::Instant::now(); } if j == 9999 { eprintln!("buckets {}", bk.join(" ")); } let mut r = q.query(&[k]).unwrap(); while let Some(row) = r.step().unwrap() { let id: i64 = row.get(0).unwrap(); let v: String = row.get(1).unwrap(); sum += id + v.len() as i64; } } }
            "pt" => { let q = s.prepare("SELECT id, v FROM t WHERE id = ?").unwrap(); let tb = std::time::Instant::now(); for k in look.iter() { let id = *k + 1; let mut r = q.query(&[&id]).unwrap(); while let Some(row) = r.step().unwrap() { let id: i64 = row.get(0).unwrap(); let v: String = row.get(1).unwrap(); sum += id + v.len() as i64; } } eprintln!("pt {:?}", tb.elapsed()); }
            "cov" => { let q = s.prepare("SELECT id FROM t WHERE k = ?").unwrap(); let tb = std::time::Instant::now(); for k in look.iter() { let mut r = q.query(&[k]).unwrap(); while let Some(row) = r.step().unwrap() { let id: i64 = row.get(0).unwrap(); sum += id; } } eprintln!("cov {:?}", tb.elapsed()); }
            "filt" => { let mut r = s.query("SELECT count(*), sum(k) FROM t WHERE k > 1000 AND length(v) > 10 AND v LIKE '%a%'", &[]).unwrap(); let row = r.next().unwrap().unwrap(); let c: i64 = row.get(0).unwrap(); sum += c; }
            "grp" => { let mut r = s.query("SELECT k % 100, count(*), sum(length(v)) FROM t GROUP BY k % 100", &[]).unwrap(); while let Some(row) = r.step().unwrap() { let c: i64 = row.get(1).unwrap(); sum += c; } }
            "f2" => { let mut r = s.query("SELECT count(*) FROM t WHERE id % 3 = 0 AND length(v) > 10", &[]).unwrap(); let row = r.next().unwrap().unwrap(); let c: i64 = row.get(0).unwrap(); sum += c; }
            "f3" => { let mut r = s.query("SELECT count(*) FROM t WHERE v LIKE '%a%'", &[]).unwrap(); let row = r.next().unwrap().unwrap(); let c: i64 = row.get(0).unwrap(); sum += c; }
            "fn" => { let mut r = s.query("SELECT count(*), sum(instr(v, 'ab')), sum(length(replace(v, 'a', 'b'))), sum(length(v || 'x')) FROM t", &[]).unwrap(); let row = r.next().unwrap().unwrap(); let c: i64 = row.get(1).unwrap(); sum += c; }
            "f4" => { let mut r = s.query("SELECT id, v FROM t WHERE k % 10 = 3", &[]).unwrap(); while let Some(row) = r.step().unwrap() { let c: i64 = row.get(0).unwrap(); sum += c; } }
            "top" => { let mut r = s.query("SELECT id, v FROM t ORDER BY v LIMIT 10", &[]).unwrap(); while let Some(row) = r.step().unwrap() { let c: i64 = row.get(0).unwrap(); sum += c; } }
            "sort" => { let mut r = s.query("SELECT id, k FROM t WHERE id % 10 = 0 ORDER BY v", &[]).unwrap(); while let Some(row) = r.step().unwrap() { let c: i64 = row.get(0).unwrap(); sum += c; } }
            "dist" => { let mut r = s.query("SELECT count(DISTINCT k % 1000) FROM t", &[]).unwrap(); let row = r.next().unwrap().unwrap(); let c: i64 = row.get(0).unwrap(); sum += c; }
            "upd" => { s.execute("UPDATE t SET k = k + 1 WHERE id % 10 = 0", &[]).unwrap(); }
            _ => panic!("what"),
        }
    }
    eprintln!("{} {} {:?} per rep {:?} ({sum})", a[1], what, t.elapsed(), t.elapsed() / reps as u32);
}
