#!/bin/bash
# cgl.sh MODE REPS BIN...: callgrind Ir of the timed query calls only (WAITFLUSH), per lookup (10k per rep)
mode=$1; reps=$2; shift 2
for b in "$@"; do
  WAITFLUSH=1 valgrind --tool=callgrind --toggle-collect='sealdb::db::rows::Rows::step' --toggle-collect='sealdb::db::statement::Statement::query' --toggle-collect='core::ptr::drop_in_place<sealdb::db::rows::Rows>' --callgrind-out-file=${OUT_DIR:-/tmp}/cgl-$b-$mode.out ${RD_DIR:-/work/tgt}/rd-$b plain /dev/shm/rdcg-$b $mode $reps 2>&1 | grep refs | awk -v b=$b -v m=$mode -v r=$reps '{gsub(",","",$4); printf "%s %s: %.0f Ir per lookup\n", b, m, $4/(r*10000)}'
done
