-- Debian packages lua-resty-redis as lua-nginx-redis ("nginx.redis"); OpenResty ships it as "resty.redis".
return require "nginx.redis"
