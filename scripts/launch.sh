#!/bin/sh
# Start script of the packages (/usr/bin wrappers exec it): launch ENTRY.mjs [daemon arguments].
# Starts Node from the V8 startup snapshot beside this file when its stamp says it was made by
# this same Node version on this kind of machine and the blob is intact (CRC and size); otherwise,
# silently, without it (the entry then loads the bundle). This cannot be left to Node: it exits
# with an error on a snapshot of another version, and V8 aborts on a damaged one.
# REDISHAPPY_SNAPSHOT=0 starts without the snapshot.
# One malloc arena unless the environment says otherwise: with glibc's default (one per thread
# that allocates, up to 8 per core) the resident size crept up about 2 MB per 100 failovers with
# a flat V8 heap; with one it follows the heap (bench/README.md, "Soak").
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-1}"
dir=${0%/*}
entry=$1
shift
blob=$dir/redishappy.blob
if [ "${REDISHAPPY_SNAPSHOT:-1}" != 0 ] && [ -f "$blob" ] && [ -f "$blob.stamp" ] && read -r stamp < "$blob.stamp" \
  && [ "$stamp" = "$(node --version) $(uname -sm) $(cksum < "$blob")" ]; then
  exec node --max-semi-space-size=1 --snapshot-blob "$blob" "$entry" "$@"
fi
exec node --max-semi-space-size=1 "$entry" "$@"
