/* formats.h: what formats/ offers: the bytes airpack reads and writes, and nothing else
 * (no network, no stores, no policy). The bottom of the stack: it includes no other folder.
 *
 *   error.h         how every library function reports failure (a code and a message)
 *   stream.h        the read/write callback shapes that connect the streaming stages
 *   digest.h        SHA-256 and OCI digest strings
 *   codec.h         streaming zstd, gzip, none (xz for reading)
 *   tar_reader.h    a strict, streaming tar reader; tar_writer.h deterministic tar headers
 *                   (tar_header.h: the one named ustar header layout both use)
 *   bundle_index.h  the signed index at the front of a bundle (airpack/bundle.json)
 *   json_check.h    the checks every JSON document read from input goes through
 *   minisign.h      minisign-compatible Ed25519 keys and signatures
 *   parts.h         split bundles: part names, --split sizes, the parts sidecar;
 *   part_reader.h   the parts of a split bundle read as one stream
 *   have_list.h     what a far-side store holds (have.json), for delta bundles
 *   chunker.h, dense_recipe.h   dense bundles: content-defined chunks and the recipe
 *   image_ref.h     image names the way Docker normalizes them
 *   oci_json.h      the OCI image-index JSON the writers and targets share; oci_writer.h
 *                   the one OCI metadata writer (manifests, indexes, index.json, manifest.json)
 *   timefmt.h       times in the index: RFC 3339, --expires durations and dates, channels
 *   parity.h, part_scan.h, part_stripes.h  parity parts (Reed-Solomon), the damage found in
 *                   a split bundle, and its parts read side by side a stripe at a time
 *   statement.h     signed statements about keys: succession and revocation */
#ifndef AIRPACK_FORMATS_H
#define AIRPACK_FORMATS_H

#include "error.h"
#include "stream.h"
#include "digest.h"
#include "codec.h"
#include "tar_reader.h"
#include "tar_writer.h"
#include "bundle_index.h"
#include "json_check.h"
#include "minisign.h"
#include "parts.h"
#include "part_reader.h"
#include "have_list.h"
#include "chunker.h"
#include "dense_recipe.h"
#include "image_ref.h"
#include "oci_json.h"
#include "oci_writer.h"
#include "timefmt.h"
#include "parity.h"
#include "part_scan.h"
#include "part_stripes.h"
#include "statement.h"

#endif
