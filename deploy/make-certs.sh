#!/usr/bin/env bash
# Creates a test certificate authority and node certificates for Akka.Remote mutual TLS.
#
#   deploy/make-certs.sh DIR [NODE...]      (default nodes: node)
#
# Writes DIR/ca.crt (give it to every node with --tls-ca) and, per node, DIR/NODE.pfx (PKCS#12
# with its key, for --tls-cert) whose password is in DIR/password (pass it with --tls-password or
# DISTRIBUTED_TLS_PASSWORD). Node certificates are valid for both ends of a connection (server and
# client auth) and name localhost, 127.0.0.1 and the node name. For tests and trials: a real
# deployment uses its own CA and keeps keys out of the repository.
set -euo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: deploy/make-certs.sh DIR [NODE...]" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "error: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
dir=$1
shift
nodes=("$@")
[[ ${#nodes[@]} -gt 0 ]] || nodes=(node)
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

for node in "${nodes[@]}"; do
  openssl req -newkey rsa:2048 -nodes -keyout "$node.key" -out "$node.csr" -subj "/CN=$node" 2>/dev/null
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
