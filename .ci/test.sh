#!/usr/bin/env bash
# The one command that installs what ccswitch's tests need on a fresh Debian machine (with Go)
# and runs every test: bash .ci/test.sh
#
# Real peers are Debian packages: SIPp (sip-tester), baresip, sipsak, Kamailio (with its TLS
# module), openssl (s_client), rtpengine,
# Chromium for the agent desktop, espeak-ng and sox for prompts. Tests run with CI=true, so a
# test whose tool is missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(sip-tester baresip sipsak kamailio kamailio-tls-modules openssl rtpengine-daemon chromium espeak-ng sox)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "== installing: ${missing[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian installs these daemons with system services; the tests start their own on loopback.
for svc in kamailio rtpengine-daemon; do
	systemctl stop "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
done

export CI=true
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -timeout 15m ./...
# The race detector allocates and sync.Pool drops items on purpose under it, so the media
# allocation checks skip (or do not assert) there: run them once without it.
echo "== allocation checks without -race"
go test -count=1 -run 'TestMixerNoAllocation|TestSRTPRelayAllocations' ./media/
