#ifndef DURIN_CHIREDIS_SHIM_H
#define DURIN_CHIREDIS_SHIM_H
// hiredis as Swift sees it. Only RedisClient imports this module.
#include <hiredis/hiredis.h>
#endif
