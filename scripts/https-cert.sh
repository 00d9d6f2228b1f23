#!/bin/sh
# Self-signed certificate for `npm run start:https` (phones on the LAN need https:// for the camera).
# Written to .cert/ (git-ignored), valid for localhost and this machine's LAN addresses; kept if it exists.
set -e
cd "$(dirname "$0")/.."
[ -f .cert/cert.pem ] && [ -f .cert/key.pem ] && exit 0
mkdir -p .cert
SAN="DNS:localhost,IP:127.0.0.1"
for ip in $(hostname -I 2>/dev/null); do case "$ip" in *:*) ;; *) SAN="$SAN,IP:$ip" ;; esac; done
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=cnnfix local" \
  -addext "subjectAltName=$SAN" -keyout .cert/key.pem -out .cert/cert.pem 2>/dev/null
echo "self-signed certificate for $SAN in .cert/ (accept it once in the phone's browser)"
