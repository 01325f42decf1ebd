# Test certificates for the NTS tests, made at test time with GnuTLS's certtool (ECDSA
# P-256: quick to make and to use). Sourced after lib.sh.
#
# make_ca DIR NAME: DIR/NAME.pem and DIR/NAME.key, a self-signed CA.
# make_server_cert DIR CA NAME: DIR/NAME.pem (the chain: server then CA) and DIR/NAME.key
#   (mode 0600), for localhost and 127.0.0.1, signed by DIR/CA.
require_cmd certtool

make_ca() {
  local dir=$1 name=$2
  printf 'cn = "tr7ntp test CA %s"\nca\ncert_signing_key\nexpiration_days = 30\n' "$name" >"$dir/$name.tmpl"
  certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$dir/$name.key" >/dev/null 2>&1 &&
    certtool --generate-self-signed --load-privkey "$dir/$name.key" --template "$dir/$name.tmpl" \
      --outfile "$dir/$name.pem" >/dev/null 2>&1 || die "certtool: cannot make CA $name"
}

make_server_cert() {
  local dir=$1 ca=$2 name=$3
  printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nexpiration_days = 30\n' \
    >"$dir/$name.tmpl"
  certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$dir/$name.key" >/dev/null 2>&1 &&
    certtool --generate-certificate --load-privkey "$dir/$name.key" --load-ca-certificate "$dir/$ca.pem" \
      --load-ca-privkey "$dir/$ca.key" --template "$dir/$name.tmpl" --outfile "$dir/$name.crt" >/dev/null 2>&1 ||
    die "certtool: cannot make certificate $name"
  cat "$dir/$name.crt" "$dir/$ca.pem" >"$dir/$name.pem"
  chmod 600 "$dir/$name.key"
}
