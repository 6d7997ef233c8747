abi <abi/3.0>,
include <tunables/global>
profile aaprof.shop.web.nginx flags=(attach_disconnected,mediate_deleted,complain) {
  include <abstractions/base>
  /etc/nginx/** r,
  /var/log/nginx/*.log w,
  capability setgid,
  capability net_bind_service,
}
