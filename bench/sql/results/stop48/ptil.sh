#!/bin/bash
# ptil.sh MODE ROUNDS REPS BIN...: interleaved runs of RD_DIR/rd-BIN (default /work/tgt: rd.rs of
# results/stop47 built per commit); prints per binary the min, p25 and median of the per-rep times
# of the "pt" or "cov" mode (10k lookups each)
mode=$1; rounds=$2; reps=$3; shift 3
for r in $(seq $rounds); do for b in "$@"; do
  WAITFLUSH=1 ${RD_DIR:-/work/tgt}/rd-$b plain /dev/shm/rdil-$b $mode $reps 2>&1 | grep -oE "^$mode [0-9.]+(ms|µs|s)" | sed "s/^/$b /"
done; done | python3 -c '
import sys,collections,re
d=collections.defaultdict(list)
for l in sys.stdin:
    b,m,t=l.split()
    v=float(re.sub("[a-zµ]+$","",t)); u=re.sub("^[0-9.]+","",t)
    d[b].append(v*{"ms":1,"s":1000,"µs":0.001}[u])
for b,xs in d.items():
    xs.sort(); print(b, "n",len(xs),"min %.2f"%xs[0], "p25 %.2f"%xs[len(xs)//4], "median %.2f"%xs[len(xs)//2])
'
