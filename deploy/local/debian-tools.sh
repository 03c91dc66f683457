#!/usr/bin/env bash
# Unpacks Debian's nginx (the local stack's load balancer in front of
# several fnmgr replicas) and prometheus/promtool (the dashboard and rules
# tests) into DIR when they are not installed, without installing them:
# `apt-get download` and `dpkg-deb -x` need no root and run no package
# scripts (nginx's would start a system nginx on port 80).
set -euo pipefail
dir="${1:?usage: debian-tools.sh DIR}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
need=()
have() { command -v "$1" >/dev/null || [[ -x /usr/sbin/$1 || -x "$dir/usr/sbin/$1" || -x "$dir/usr/bin/$1" ]]; }
have nginx || need+=(nginx)
{ have prometheus && have promtool; } || need+=(prometheus)
((${#need[@]})) || exit 0
command -v apt-get >/dev/null || { echo "debian-tools: apt-get not found; install ${need[*]} yourself" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
if ! apt-get download "${need[@]}" >/dev/null 2>&1; then
	if ((EUID == 0)); then apt-get update -qq; else echo "debian-tools: apt-get download failed; run apt-get update" >&2; fi
	apt-get download "${need[@]}" >/dev/null
fi
for deb in ./*.deb; do dpkg-deb -x "$deb" "$dir"; done
echo "debian-tools: unpacked ${need[*]} into $dir" >&2
