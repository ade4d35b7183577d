#!/usr/bin/env bash
# Builds the Debian package of alloydb-auth-proxy from this checkout:
#   scripts/build-deb.sh [OUTPUT_DIR]      -> OUTPUT_DIR/alloydb-auth-proxy_<version>_<arch>.deb
# The binary links the Swift runtime statically, so the package depends only on the system's
# OpenSSL, libcurl and libmicrohttpd; dpkg-shlibdeps computes those dependencies from the
# binary itself, so installing on a machine without them fails at install time, naming them.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)

for tool in dpkg-deb dpkg-shlibdeps; do
    command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing (apt-get install dpkg-dev)" >&2; exit 1; }
done

echo "build-deb: building the release binary (static Swift runtime)"
swift build -c release --static-swift-stdlib --product alloydb-auth-proxy 2>&1 \
    | grep -E 'error|warning:|complete!'
binary="$(swift build -c release --static-swift-stdlib --show-bin-path)/alloydb-auth-proxy"

version=$("$binary" --version | head -n 1 | awk '{print $NF}')
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

install -D -m 0755 "$binary" "$stage/usr/bin/alloydb-auth-proxy"
strip --strip-unneeded "$stage/usr/bin/alloydb-auth-proxy"
install -D -m 0644 packaging/systemd/alloydb-auth-proxy.service \
    "$stage/lib/systemd/system/alloydb-auth-proxy.service"
install -D -m 0644 packaging/systemd/alloydb-auth-proxy.default "$stage/etc/default/alloydb-auth-proxy"
install -D -m 0644 packaging/systemd/config.toml "$stage/etc/alloydb-auth-proxy/config.toml"
install -d -m 0755 "$stage/usr/share/doc/alloydb-auth-proxy"
"$binary" --help > "$stage/usr/share/doc/alloydb-auth-proxy/USAGE"
gzip -9n -c README.md > "$stage/usr/share/doc/alloydb-auth-proxy/README.md.gz"
gzip -9n -c docs/COMPATIBILITY.md > "$stage/usr/share/doc/alloydb-auth-proxy/COMPATIBILITY.md.gz"
if command -v help2man >/dev/null; then
    install -d "$stage/usr/share/man/man1"
    help2man --no-info --name "AlloyDB Auth Proxy" --version-string "$version" "$binary" \
        | gzip -9n > "$stage/usr/share/man/man1/alloydb-auth-proxy.1.gz"
fi

# dpkg-shlibdeps wants a debian/control next to it; give it a throwaway one.
shlib=$(mktemp -d)
mkdir -p "$shlib/debian"
printf 'Source: alloydb-auth-proxy\n\nPackage: alloydb-auth-proxy\nArchitecture: any\n' \
    > "$shlib/debian/control"
depends=$(cd "$shlib" && dpkg-shlibdeps -O "$stage/usr/bin/alloydb-auth-proxy" 2>/dev/null \
    | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shlib"
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

install -d "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: alloydb-auth-proxy
Version: $version
Architecture: $arch
Maintainer: alloydb-auth-proxy maintainers <noreply@localhost>
Section: database
Priority: optional
Depends: $depends
Installed-Size: $(du -ks "$stage" | cut -f1)
Description: AlloyDB Auth Proxy (Swift, epoll, OpenSSL)
 Local clients connect over TCP or a Unix socket; each connection becomes a
 mutual-TLS 1.3 tunnel to an AlloyDB instance with a short-lived client
 certificate from the AlloyDB Admin API. Takes the Go proxy's command line.
CONTROL
printf '/etc/default/alloydb-auth-proxy\n/etc/alloydb-auth-proxy/config.toml\n' > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
POSTINST
chmod 0755 "$stage/DEBIAN/postinst"

deb="$out/alloydb-auth-proxy_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "build-deb: $deb"
echo "build-deb: Depends: $depends"
