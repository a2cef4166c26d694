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
rm -rf "$out" && mkdir -p "$out"

for flavour in haproxy consul; do
  name="redishappy-$flavour"
  root=$(mktemp -d) && chmod 0755 "$root"
  install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/redishappy/page" "$root/etc/$name" "$root/lib/systemd/system" "$root/usr/share/doc/$name"
  install -m 0644 "$build/redishappy.js" "$root/usr/lib/redishappy/redishappy.js"
  install -m 0644 "$build/page/index.html" "$root/usr/lib/redishappy/page/index.html"
  printf 'const { main } = await import("./redishappy.js");\nawait main("%s");\n' "$flavour" > "$root/usr/lib/redishappy/$name.mjs"
  printf '#!/bin/sh\nexec node /usr/lib/redishappy/%s.mjs "$@"\n' "$name" > "$root/usr/bin/$name"
  chmod 0755 "$root/usr/bin/$name"
  ln -s "$name" "$root/usr/bin/redis-$flavour"
  install -m 0640 "packaging/configs/$flavour-config.json" "$root/etc/$name/config.json"
  echo "/etc/$name/config.json" > "$root/DEBIAN/conffiles"
  if [ "$flavour" = haproxy ]; then
    install -m 0640 examples/haproxy/haproxy_template_runtime.cfg "$root/etc/$name/haproxy_template.cfg"
    echo "/etc/$name/haproxy_template.cfg" >> "$root/DEBIAN/conffiles"
    install -m 0755 packaging/haproxy-reload.mjs "$root/usr/lib/redishappy/haproxy-reload"
  fi
  install -m 0644 "packaging/systemd/$name.service" "$root/lib/systemd/system/$name.service"
  install -m 0644 LICENSE "$root/usr/share/doc/$name/copyright" 2>/dev/null || printf 'Apache-2.0\n' > "$root/usr/share/doc/$name/copyright"
  cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: redishappy maintainers <redishappy@localhost>
Depends: nodejs (>= 20)
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
  rm -rf "$root"
  echo "built $out/${name}_${version}_all.deb ($(du -h "$out/${name}_${version}_all.deb" | cut -f1))"
done
