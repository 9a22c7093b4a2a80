#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) in a version Dawn accepts, so `--backend webgpu`
# runs on a CPU-only Debian machine (tests, CI). Debian 12's own Mesa 22.3 is rejected by Dawn
# ("shaderUniform*ArrayDynamicIndexing required"); the ${codename}-backports build (Mesa 25) works.
#
#   bash scripts/install-lavapipe.sh      (as root, or as a user with passwordless sudo)
#
# Idempotent: returns at once when Mesa >= LAVAPIPE_MIN_MESA (default 25) is installed. Otherwise it adds a
# ${codename}-backports apt entry derived from the machine's own Debian entry (deb822 *.sources or a
# classic sources.list line; no host is named here), then installs mesa-vulkan-drivers and libvulkan1.
# Prints one line on success, one line on stderr on failure. apt's own output goes to a log in $TMPDIR.
# apt's configuration (APT_CONFIG, Dir::Etc::*) is honoured, so the whole path can be tried with a
# private sources dir and APT::Get::Simulate.
set -euo pipefail

MIN=${LAVAPIPE_MIN_MESA:-25}
PKGS=(mesa-vulkan-drivers libvulkan1)

die() { echo "install-lavapipe: $*" >&2; exit 1; }

# Prints the installed version of package $1, or nothing.
installed_version() {
  dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$1" 2>/dev/null | awk '$1 ~ /^[hi]i/ {print $2}' | head -n1
}

good_enough() {
  local v
  v=$(installed_version mesa-vulkan-drivers)
  [ -n "$v" ] && [ -n "$(installed_version libvulkan1)" ] && dpkg --compare-versions "$v" ge "${MIN}~"
}

report() {
  echo "lavapipe: mesa-vulkan-drivers $(installed_version mesa-vulkan-drivers), libvulkan1 $(installed_version libvulkan1)"
}

# Every deb822 stanza (paragraph) of file $1 whose Types has 'deb' and whose Suites has exactly $2,
# with Suites replaced by $3. The first such stanza is enough.
deb822_entry() {
  awk -v want="$2" -v repl="$3" '
    function flush() {
      if (n && isdeb && hit && enabled && !done) { for (i = 1; i <= n; i++) print buf[i]; done = 1 }
      n = 0; isdeb = 0; hit = 0; enabled = 1
    }
    BEGIN { enabled = 1 }
    /^[ \t]*$/ { flush(); next }
    {
      line = $0; key = tolower($1)
      if (key == "types:") { for (i = 2; i <= NF; i++) if ($i == "deb") isdeb = 1 }
      if (key == "enabled:" && tolower($2) == "no") enabled = 0
      if (key == "suites:") { for (i = 2; i <= NF; i++) if ($i == want) hit = 1; line = "Suites: " repl }
      buf[++n] = line
    }
    END { flush() }
  ' "$1"
}

# The first classic 'deb [opts] URI SUITE components' line of file $1 with SUITE == $2, as a backports line.
classic_entry() {
  awk -v want="$2" -v repl="$3" '
    $1 != "deb" { next }
    {
      i = 2
      if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }   # [arch=amd64 signed-by=...]
      if ($(i + 1) == want) { $(i + 1) = repl; print; exit }
    }
  ' "$1"
}

# True when some enabled, non-comment apt entry already names suite $1.
suite_configured() {
  local f
  for f in "$SRCLIST" "$SRCPARTS"/*.list; do
    [ -f "$f" ] && awk -v s="$1" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == s) found = 1 } END { exit !found }' "$f" && return 0
  done
  for f in "$SRCPARTS"/*.sources; do
    [ -f "$f" ] && awk -v s="$1" '
        tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) found = 1 }
        END { exit !found }' "$f" && return 0
  done
  return 1
}

# Writes a ${codename}-backports entry next to the machine's own Debian entry, if none exists.
add_backports() {
  local codename=$1 bp="$1-backports" f entry
  suite_configured "$bp" && return 0
  # deb822 first (Debian 12's default layout), debian.sources before any other *.sources
  for f in "$SRCPARTS"/debian.sources "$SRCPARTS"/*.sources; do
    [ -f "$f" ] || continue
    entry=$(deb822_entry "$f" "$codename" "$bp")
    if [ -n "$entry" ]; then
      printf '%s\n' "# added by scripts/install-lavapipe.sh, from $f" "$entry" >"$SRCPARTS/pipeline-backports.sources"
      return 0
    fi
  done
  for f in "$SRCLIST" "$SRCPARTS"/*.list; do
    [ -f "$f" ] || continue
    entry=$(classic_entry "$f" "$codename" "$bp")
    if [ -n "$entry" ]; then
      printf '%s\n' "# added by scripts/install-lavapipe.sh, from $f" "$entry" >"$SRCPARTS/pipeline-backports.list"
      return 0
    fi
  done
  die "found no apt entry for suite '$codename' in $SRCLIST or $SRCPARTS to derive $bp from"
}

main() {
  if good_enough; then report; return 0; fi

  command -v apt-get >/dev/null && command -v dpkg >/dev/null || die "needs a Debian system with apt-get (Mesa >= $MIN not installed)"
  local codename sudo=()
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "cannot read VERSION_CODENAME from /etc/os-release"
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n); else die "Mesa >= $MIN is not installed and installing it needs root (run as root or with passwordless sudo)"; fi
  fi

  eval "$(apt-config shell SRCLIST Dir::Etc::sourcelist/f SRCPARTS Dir::Etc::sourceparts/d)"
  SRCLIST=${SRCLIST:-/etc/apt/sources.list}; SRCPARTS=${SRCPARTS%/}; SRCPARTS=${SRCPARTS:-/etc/apt/sources.list.d}

  local log
  log=$(mktemp "${TMPDIR:-/tmp}/install-lavapipe.XXXXXX.log")
  if [ ${#sudo[@]} -eq 0 ]; then add_backports "$codename"; else
    # the entry is written by root: run this same function under sudo
    "${sudo[@]}" env SRCLIST="$SRCLIST" SRCPARTS="$SRCPARTS" bash -c "$(declare -f die deb822_entry classic_entry suite_configured add_backports); add_backports '$codename'"
  fi

  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0)
  "${apt[@]}" update >"$log" 2>&1 || die "apt-get update failed: $(grep -E '^(E|W):' "$log" | head -n1 || tail -n1 "$log") (log: $log)"
  "${apt[@]}" install --no-install-recommends -t "$codename-backports" "${PKGS[@]}" >>"$log" 2>&1 ||
    die "apt-get install ${PKGS[*]} from $codename-backports failed: $(grep -E '^E:' "$log" | head -n1 || tail -n1 "$log") (log: $log)"
  good_enough || die "installed mesa-vulkan-drivers '$(installed_version mesa-vulkan-drivers)' is older than $MIN (log: $log)"
  rm -f "$log"
  report
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
