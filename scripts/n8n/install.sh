#!/usr/bin/env bash
# Installs n8n (default 2.40.7) once into a cache folder outside the repo, for the e2e tests and the demo.
#
#   scripts/n8n/install.sh            install if missing or broken, then print the install folder
#   scripts/n8n/install.sh --force    reinstall from scratch
#
# Environment (all optional):
#   N8N_VERSION           n8n version to install (default 2.40.7)
#   CLOUDSYNC_N8N_HOME    install folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/n8n-nodes-cloudsync/n8n-$N8N_VERSION)
#   CLOUDSYNC_NODE24      Node >= 24 that runs n8n (default: this repo's node_modules/.bin/node)
#   CLOUDSYNC_NODE_GYP_NODE  the machine's own Node whose headers are installed (default: first `node`
#                         on PATH outside any node_modules/.bin, else /usr/bin/node)
#
# How (see shared/reference/n8n.md "Running n8n here"):
#   1. npm install --ignore-scripts n8n@VERSION   (n8n's install scripts would download a Kafka addon)
#   2. npm rebuild sqlite3 under the machine's Node (its headers are installed locally, so node-gyp
#      needs no download); sqlite3 is an N-API addon, so the result also loads in Node 24.
#   3. verify: `n8n --version` and require('sqlite3') under Node 24.
# Everything goes to stderr except the final line: the install folder.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N8N_VERSION="${N8N_VERSION:-2.40.7}"
N8N_HOME="${CLOUDSYNC_N8N_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/n8n-nodes-cloudsync/n8n-$N8N_VERSION}"
NODE24="${CLOUDSYNC_NODE24:-$REPO/node_modules/.bin/node}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

log() { printf '[n8n-install] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -x "$NODE24" ]] || die "Node 24 not found at $NODE24 (run npm ci in $REPO, or set CLOUDSYNC_NODE24)"
NODE24="$(readlink -f "$NODE24")"
major24="$("$NODE24" -p 'process.versions.node.split(".")[0]')"
(( major24 >= 24 )) || die "$NODE24 is Node $major24; n8n $N8N_VERSION needs Node >= 24"

# The machine's own Node (for node-gyp with the locally installed headers): never one from node_modules/.bin.
find_gyp_node() {
	if [[ -n "${CLOUDSYNC_NODE_GYP_NODE:-}" ]]; then echo "$CLOUDSYNC_NODE_GYP_NODE"; return; fi
	local candidate
	while IFS= read -r candidate; do
		case "$candidate" in */node_modules/*) continue ;; esac
		echo "$candidate"; return
	done < <(type -ap node)
	[[ -x /usr/bin/node ]] && { echo /usr/bin/node; return; }
	return 1
}
# npm's CLI script, run explicitly with the Node we choose (the `npm` shim would use whichever `node` is first on PATH).
find_npm_cli() {
	local npm_bin
	npm_bin="$(type -ap npm | grep -v '/node_modules/' | head -n1)" || true
	[[ -n "$npm_bin" ]] || npm_bin=/usr/bin/npm
	npm_bin="$(readlink -f "$npm_bin")"
	[[ -f "$npm_bin" ]] || return 1
	echo "$npm_bin"
}

n8n_bin="$N8N_HOME/node_modules/n8n/bin/n8n"

# Loadable = the marker says so, `n8n --version` prints the version, and sqlite3's addon loads, all under Node 24.
is_loadable() {
	local dir="$1" v scratch
	[[ -f "$dir/.cloudsync-installed" && -f "$dir/node_modules/n8n/bin/n8n" ]] || return 1
	scratch="$(mktemp -d)"
	v="$(cd "$dir" && PATH="$(dirname "$NODE24"):$PATH" N8N_USER_FOLDER="$scratch" \
		timeout 120 "$NODE24" "$dir/node_modules/n8n/bin/n8n" --version 2>/dev/null | tail -n1)" || v=""
	rm -rf "$scratch"
	[[ "$v" == "$N8N_VERSION" ]] || return 1
	(cd "$dir" && "$NODE24" -e "require('sqlite3')" >/dev/null 2>&1) || return 1
}

mkdir -p "$(dirname "$N8N_HOME")"
# One installer at a time (parallel test runs, other engineers on the same machine).
exec 9>"$N8N_HOME.lock"
if ! flock -n 9; then log "another install is running; waiting for it"; flock 9; fi

if (( FORCE == 0 )) && is_loadable "$N8N_HOME"; then
	log "n8n $N8N_VERSION already installed at $N8N_HOME"
	echo "$N8N_HOME"
	exit 0
fi

GYP_NODE="$(find_gyp_node)" || die "no machine Node found for node-gyp (set CLOUDSYNC_NODE_GYP_NODE)"
GYP_NODE="$(readlink -f "$GYP_NODE")"
NPM_CLI="$(find_npm_cli)" || die "npm not found"
gyp_version="$("$GYP_NODE" --version)"
node_prefix="$(dirname "$(dirname "$GYP_NODE")")"
nodedir_env=()
if [[ -f "$node_prefix/include/node/node_api.h" ]]; then nodedir_env=("npm_config_nodedir=$node_prefix")
else log "warning: no Node headers in $node_prefix/include/node; node-gyp may try to download them"; fi
log "n8n $N8N_VERSION -> $N8N_HOME"
log "Node for n8n: $NODE24 ($("$NODE24" --version)); Node for node-gyp: $GYP_NODE ($gyp_version); npm: $NPM_CLI"

start=$(date +%s)
staging="$N8N_HOME.staging.$$"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT
cat >"$staging/package.json" <<JSON
{ "name": "cloudsync-n8n-runtime", "private": true, "description": "n8n $N8N_VERSION for n8n-nodes-cloudsync e2e tests" }
JSON
# Keep the repo's (or a user's) npm settings from leaking in, except the cache and registry.
export npm_config_ignore_scripts=true npm_config_audit=false npm_config_fund=false \
	npm_config_update_notifier=false npm_config_progress=false npm_config_loglevel=warn

log "step 1/3: npm install --ignore-scripts n8n@$N8N_VERSION"
(cd "$staging" && PATH="$(dirname "$NODE24"):$PATH" "$NODE24" "$NPM_CLI" install \
	--ignore-scripts --no-audit --no-fund --omit=dev --no-package-lock "n8n@$N8N_VERSION" >&2)
t1=$(date +%s)

log "step 2/3: npm rebuild sqlite3 under $GYP_NODE ($gyp_version)"
# --build-from-source: prebuild-install would try to download a binary first (no internet here).
(cd "$staging" && env PATH="$(dirname "$GYP_NODE"):$PATH" JOBS="${JOBS:-2}" \
	npm_config_ignore_scripts=false npm_config_build_from_source=true "${nodedir_env[@]}" \
	"$GYP_NODE" "$NPM_CLI" rebuild --ignore-scripts=false sqlite3 >&2)
t2=$(date +%s)

log "step 3/3: verify under Node 24"
touch "$staging/.cloudsync-installed"
rm -rf "$N8N_HOME"
mv "$staging" "$N8N_HOME"
trap - EXIT
is_loadable "$N8N_HOME" || { rm -f "$N8N_HOME/.cloudsync-installed"; die "n8n installed but not loadable under $NODE24"; }
end=$(date +%s)
size="$(du -sh "$N8N_HOME" | cut -f1)"
log "done in $((end - start))s (install $((t1 - start))s, sqlite3 rebuild $((t2 - t1))s, verify $((end - t2))s); size $size"
echo "$N8N_HOME"
