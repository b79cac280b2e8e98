#!/bin/bash
# cgload100.sh BIN...: callgrind Ir per row of 100k rows in transactions of 100 (BEGIN, 100 prepared INSERTs, COMMIT), rd LOAD100
for b in "$@"; do
  LOAD100=1 valgrind --tool=callgrind --toggle-collect='sealdb::db::session::Session::run_parsed_cached' --callgrind-out-file=${OUT_DIR:-/tmp}/cg-l100-$b.out ${RD_DIR:-/work/tgt}/rd-$b plain /dev/shm/rdcg-$b load 1 2>&1 | grep refs | awk -v b=$b '{gsub(",","",$4); printf "%s load100: %.0f Ir per row\n", b, $4/100000}'
  rm -rf /dev/shm/rdcg-$b
done
