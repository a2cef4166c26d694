# @summary Installs and runs redishappy (HAProxy or Consul flavour) from the Debian packages.
#
# @param flavour     'haproxy' or 'consul'
# @param clusters    Array of { 'name' => String, 'external_port' => Integer }
# @param sentinels   Array of { 'host' => String, 'port' => Integer }
# @param haproxy     Hash of HAProxy keys (TemplatePath, OutputPath, ReloadCommand, RuntimeSocket, ...)
# @param consul      Hash of Consul keys (Address, Token, Mode, Services, ...)
# @param sentinel_password Optional Sentinel AUTH password for every sentinel.
# @param package_ensure    Passed to the package resource.
# @param service_ensure    Passed to the service resource.
#
# @example
#   class { 'redishappy':
#     flavour   => 'haproxy',
#     clusters  => [{ 'name' => 'testing', 'external_port' => 6379 }],
#     sentinels => [{ 'host' => '10.0.0.5', 'port' => 26379 }],
#   }
class redishappy (
  Enum['haproxy', 'consul'] $flavour,
  Array[Struct[{ name => String[1], external_port => Integer[1, 65535] }], 1] $clusters,
  Array[Struct[{ host => String[1], port => Integer[1, 65535] }], 1] $sentinels,
  Hash $haproxy = {
    'TemplatePath'  => '/etc/redishappy-haproxy/haproxy_template.cfg',
    'OutputPath'    => '/etc/haproxy/haproxy.cfg',
    'ReloadCommand' => '/usr/lib/redishappy/haproxy-reload /run/haproxy-master.sock',
    'RuntimeSocket' => '/run/haproxy/admin.sock',
  },
  Hash $consul = { 'Address' => '127.0.0.1:8500' },
  Optional[String] $sentinel_password = undef,
  String $package_ensure = 'installed',
  Enum['running', 'stopped'] $service_ensure = 'running',
) {
  $pkg = "redishappy-${flavour}"

  # The flavour depends on redishappy-common (same version); Puppet's apt provider (the default
  # on Debian) installs it with the flavour, as apt-get does.
  package { $pkg:
    ensure => $package_ensure,
  }

  $config = {
    'Clusters'         => $clusters.map |$c| { { 'Name' => $c['name'], 'ExternalPort' => $c['external_port'] } },
    'Sentinels'        => $sentinels.map |$s| { { 'Host' => $s['host'], 'Port' => $s['port'] } },
    'SentinelPassword' => $sentinel_password,
    'HAProxy'          => $flavour ? { 'haproxy' => $haproxy, default => undef },
    'Consul'           => $flavour ? { 'consul' => $consul, default => undef },
  }.filter |$k, $v| { $v != undef }

  file { "/etc/${pkg}/config.json":
    ensure  => file,
    owner   => 'root',
    group   => 'redishappy',
    mode    => '0640',
    content => epp('redishappy/config.json.epp', { 'config' => $config }),
    require => Package[$pkg],
  }

  service { $pkg:
    ensure    => $service_ensure,
    enable    => true,
    # A changed config is applied with SIGHUP (systemctl reload), without a restart.
    restart   => "/bin/systemctl reload ${pkg}",
    subscribe => File["/etc/${pkg}/config.json"],
  }
}
