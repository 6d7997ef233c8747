abi <abi/3.0>,
include <tunables/global>
# web server
profile aaprof.shop.web.nginx flags=(attach_disconnected,mediate_deleted,complain) {
  include <abstractions/base>
  /etc/nginx/** r,
  /etc/nginx/nginx.conf r,
  deny /etc/shadow r,
  owner /var/cache/nginx/** rw,
  capability setgid,
  network inet stream,
}
