/* schedule/internal.h -- included by the schedule files only: their tg_err calls go through tgs_err, which remembers
** the status code for tg_schedule_linear / tg_schedule_callify to return. */
#ifndef TG_SCHEDULE_INTERNAL_H
#define TG_SCHEDULE_INTERNAL_H
#include "schedule/schedule.h"
#define tg_err tgs_err
#endif
