#!/bin/bash
# ptil.sh MODE ROUNDS REPS BIN...: interleaved rd runs; prints per binary the min and median of the per-rep times ("pt"/"cov" lines or buckets)
mode=$1; rounds=$2; reps=$3; shift 3
for r in $(seq $rounds); do for b in "$@"; do
  WAITFLUSH=1 /work/tgt/rd-$b plain /dev/shm/rdil-$b $mode $reps 2>&1 | grep -oE "^$mode [0-9.]+(ms|µs|s)" | sed "s/^/$b /"
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
