#!/usr/bin/env bash
# Builds dist/redishappy-haproxy_<v>_all.deb and dist/redishappy-consul_<v>_all.deb with Debian's
# dpkg-deb: the single-file bundle, /usr/bin wrappers (plus the original's names redis-haproxy and
# redis-consul), config files as conffiles, a systemd unit, and a system user made at install.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
out=dist/packages
# Its own build directory: never touch dist/redishappy.js, which running launchers may be reading.
build=dist/package-build
node scripts/build.mjs "$build" >/dev/null
# Man pages from src/cli/manual.ts, the source --help is made from.
node --import tsx scripts/man.ts "$build/man"
rm -rf "$out" && mkdir -p "$out"

for flavour in haproxy consul; do
  name="redishappy-$flavour"
  root=$(mktemp -d) && chmod 0755 "$root"
  install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/redishappy/page" "$root/etc/$name" "$root/lib/systemd/system" "$root/usr/share/doc/$name"
  # The entry (redishappy.js), the daemon (redishappy.cjs) and its V8 code cache (used only by the
  # Node version that built it; another one just compiles, see scripts/code-cache.mjs).
  install -m 0644 "$build/redishappy.js" "$build/redishappy.cjs" "$build/redishappy.cjs.cache" "$root/usr/lib/redishappy/"
  install -m 0644 "$build/page/index.html" "$root/usr/lib/redishappy/page/index.html"
  printf 'const { main } = await import("./redishappy.js");\nawait main("%s");\n' "$flavour" > "$root/usr/lib/redishappy/$name.mjs"
  printf '#!/bin/sh\nexec node --max-semi-space-size=1 /usr/lib/redishappy/%s.mjs "$@"\n' "$name" > "$root/usr/bin/$name"
  chmod 0755 "$root/usr/bin/$name"
  ln -s "$name" "$root/usr/bin/redis-$flavour"
  install -m 0640 "packaging/configs/$flavour-config.json" "$root/etc/$name/config.json"
  echo "/etc/$name/config.json" > "$root/DEBIAN/conffiles"
  if [ "$flavour" = haproxy ]; then
    install -m 0640 examples/haproxy/haproxy_template_runtime.cfg "$root/etc/$name/haproxy_template.cfg"
    echo "/etc/$name/haproxy_template.cfg" >> "$root/DEBIAN/conffiles"
    install -m 0755 packaging/haproxy-reload.mjs "$root/usr/lib/redishappy/haproxy-reload"
  fi
  install -d "$root/usr/share/man/man8"
  gzip -9n < "$build/man/$name.8" > "$root/usr/share/man/man8/$name.8.gz"
  chmod 0644 "$root/usr/share/man/man8/$name.8.gz"
  ln -s "$name.8.gz" "$root/usr/share/man/man8/redis-$flavour.8.gz"
  install -m 0644 "packaging/systemd/$name.service" "$root/lib/systemd/system/$name.service"
  cat > "$root/usr/share/doc/$name/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: redishappy
Source: https://github.com/mdevilliers/redishappy

Files: *
Copyright: 2015 Mark deVilliers (the original Go redishappy), 2026 the redishappy TypeScript authors
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
  printf '%s (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- redishappy maintainers <redishappy@users.noreply.github.com>  %s\n' "$name" "$version" "$version" "$(date -R)" | gzip -9n > "$root/usr/share/doc/$name/changelog.gz"
  cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: redishappy maintainers <redishappy@users.noreply.github.com>
Depends: nodejs (>= 20), adduser
Recommends: ${flavour/consul/consul}
Section: net
Priority: optional
Homepage: https://github.com/mdevilliers/redishappy
Description: present the confirmed Redis Sentinel master to ${flavour}
 Watches Redis Sentinels and publishes each cluster's confirmed master (highest
 config-epoch, answering ROLE master) to ${flavour}, so that clients that are not
 Sentinel-aware survive failovers. Drop-in for the original redishappy-${flavour}.
CONTROL
  sed -i '/^Recommends: consul$/d' "$root/DEBIAN/control"
  [ "$flavour" = haproxy ] && sed -i 's/^Recommends: haproxy$/Recommends: haproxy (>= 2.6)/' "$root/DEBIAN/control"
  cat > "$root/DEBIAN/postinst" <<POSTINST
#!/bin/sh
set -e
if [ "\$1" = configure ]; then
  getent group redishappy >/dev/null || addgroup --system redishappy >/dev/null
  getent passwd redishappy >/dev/null || adduser --system --ingroup redishappy --home /nonexistent --no-create-home --shell /usr/sbin/nologin redishappy >/dev/null
  if [ "$flavour" = haproxy ] && getent group haproxy >/dev/null; then adduser redishappy haproxy >/dev/null || true; fi
  install -d -o redishappy -g redishappy -m 0750 /var/log/$name
  chgrp redishappy /etc/$name/* && chmod 0640 /etc/$name/*
  if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; systemctl enable $name.service >/dev/null 2>&1 || true; fi
fi
POSTINST
  cat > "$root/DEBIAN/prerm" <<PRERM
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl stop $name.service >/dev/null 2>&1 || true; fi
PRERM
  cat > "$root/DEBIAN/postrm" <<POSTRM
#!/bin/sh
set -e
if [ "\$1" = purge ]; then rm -rf /var/log/$name; fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
POSTRM
  chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
  dpkg-deb -Zgzip --root-owner-group --build "$root" "$out/${name}_${version}_all.deb" >/dev/null
  echo "built $out/${name}_${version}_all.deb ($(du -h "$out/${name}_${version}_all.deb" | cut -f1))"

  # The same tree as an rpm, when rpmbuild is there (Debian's rpm package provides it).
  if command -v rpmbuild >/dev/null 2>&1; then
    top=$(mktemp -d)
    mkdir -p "$top/SPECS" "$top/RPMS"
    files=$(cd "$root" && find . -path ./DEBIAN -prune -o \( -type f -o -type l \) -print | sed 's#^\.##' | while read -r f; do case "$f" in /etc/*) echo "%config(noreplace) $f";; *) echo "$f";; esac; done)
    cat > "$top/SPECS/$name.spec" <<SPEC
Name: $name
Version: $version
Release: 1
Summary: Present the confirmed Redis Sentinel master to $flavour
License: Apache-2.0
URL: https://github.com/mdevilliers/redishappy
BuildArch: noarch
Requires: nodejs >= 20
%description
Watches Redis Sentinels and publishes each cluster's confirmed master to $flavour.
Drop-in for the original redishappy-$flavour.
%install
mkdir -p %{buildroot}
cp -a $root/. %{buildroot}/
rm -rf %{buildroot}/DEBIAN
%pre
getent group redishappy >/dev/null || groupadd -r redishappy
getent passwd redishappy >/dev/null || useradd -r -g redishappy -d /nonexistent -s /sbin/nologin redishappy
%post
install -d -o redishappy -g redishappy -m 0750 /var/log/$name
%files
$files
SPEC
    rpmbuild --quiet --define "_topdir $top" --define "_rpmdir $top/RPMS" -bb "$top/SPECS/$name.spec" >/dev/null 2>&1 || { echo "rpmbuild failed for $name" >&2; exit 1; }
    find "$top/RPMS" -name '*.rpm' -exec cp {} "$out/" \;
    rm -rf "$top"
    echo "built $(ls "$out"/$name-*.rpm)"
  fi
  rm -rf "$root"
done
