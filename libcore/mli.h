/* mli.h: everything libcore offers, for programs. */
#ifndef MLI_H
#define MLI_H

#include "cli.h"
#include "cpu.h"
#include "error.h"
#include "frame.h"
#include "io.h"
#include "kernels.h"
#include "progress.h"
#include "reader.h"
#include "record.h"
#include "writer.h"

#endif
