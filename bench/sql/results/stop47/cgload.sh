#!/bin/bash
# cgload.sh BIN...: callgrind Ir per prepared INSERT (200k rows in one txn, the COMMIT included), rd load mode
for b in "$@"; do
  valgrind --tool=callgrind --toggle-collect='sealdb::db::session::Session::run_parsed_cached' --callgrind-out-file=${OUT_DIR:-/tmp}/cg-load-$b.out ${RD_DIR:-/work/tgt}/rd-$b plain /dev/shm/rdcg-$b load 1 2>&1 | grep refs | awk -v b=$b '{gsub(",","",$4); printf "%s load: %.0f Ir per row\n", b, $4/200000}'
  rm -rf /dev/shm/rdcg-$b
done
