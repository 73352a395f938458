#!/usr/bin/env bash
# Creates a test certificate authority and node certificates for Akka.Remote mutual TLS.
#
#   deploy/make-certs.sh DIR [--coordinator NAME]... [NAME...]
#
# Writes DIR/ca.crt (give it to every node with --tls-ca) and, per node, DIR/NAME.pfx (PKCS#12
# with its key, for --tls-cert) whose password is in DIR/password (pass it with --tls-password or
# DISTRIBUTED_TLS_PASSWORD). Each certificate names its role in the subject (OU=coordinator for
# --coordinator NAME, OU=worker for a plain NAME): workers accept a coordinator only if it proves
# it holds a coordinator certificate, so a worker's key cannot pose as the coordinator. With no
# NAME at all: one coordinator "coordinator" and one worker "worker". Node certificates are valid
# for both ends of a connection (server and client auth) and name localhost, 127.0.0.1 and the
# node name. For tests and trials: a real deployment uses its own CA and keeps keys out of the
# repository.
set -euo pipefail
usage="usage: deploy/make-certs.sh DIR [--coordinator NAME]... [NAME...]"
if [[ $# -lt 1 || $1 == -* ]]; then
  echo "$usage" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "error: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
dir=$1
shift
nodes=() roles=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --coordinator)
      [[ $# -ge 2 && $2 != -* ]] || { echo "error: --coordinator needs a NAME. $usage" >&2; exit 1; }
      nodes+=("$2") roles+=(coordinator); shift 2 ;;
    -*) echo "error: unknown option $1. $usage" >&2; exit 1 ;;
    *) nodes+=("$1") roles+=(worker); shift ;;
  esac
done
[[ ${#nodes[@]} -gt 0 ]] || { nodes=(coordinator worker); roles=(coordinator worker); }
for node in "${nodes[@]}"; do
  [[ $node =~ ^[A-Za-z0-9._-]+$ ]] || { echo "error: node name '$node' may hold only letters, digits, '.', '_' and '-'" >&2; exit 1; }
done
mkdir -p "$dir"
cd "$dir"
# Keys and the password are readable by their owner only, and git never sees this folder.
umask 077
[[ -f .gitignore ]] || printf '# written by deploy/make-certs.sh: keys and passwords stay out of git\n*\n' > .gitignore
[[ -f password ]] || openssl rand -hex 16 > password
password=$(cat password)

if [[ ! -f ca.key ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 825 -subj "/CN=Distributed test CA $(date +%s)" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

for i in "${!nodes[@]}"; do
  node=${nodes[$i]} role=${roles[$i]}
  openssl req -newkey rsa:2048 -nodes -keyout "$node.key" -out "$node.csr" -subj "/OU=$role/CN=$node" 2>/dev/null
  cat > "$node.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,DNS:$node,IP:127.0.0.1
EXT
  openssl x509 -req -in "$node.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$node.crt" -days 825 -extfile "$node.ext" 2>/dev/null
  openssl pkcs12 -export -out "$node.pfx" -inkey "$node.key" -in "$node.crt" -certfile ca.crt -passout "pass:$password"
  rm -f "$node.csr" "$node.ext"
  chmod 600 "$node.key" "$node.pfx"
  echo "$dir/$node.pfx"
done
chmod 600 password ca.key
chmod 644 ca.crt
