/* blas.h: one place that maps our BLAS calls onto the library we link.
 * Default: the scipy-openblas32 wheel, whose symbols carry the prefix `scipy_`
 * (setup.py defines BLAS_SYMBOL_PREFIX=scipy_). With CNN_SYSTEM_BLAS=1 at build time the
 * system OpenBLAS is linked and the plain names are used. */
#ifndef CNN_BLAS_H
#define CNN_BLAS_H

#include <cblas.h>

#ifdef CNN_USE_SCIPY_OPENBLAS
#define cnn_sgemm scipy_cblas_sgemm
#define cnn_sgemv scipy_cblas_sgemv
#define cnn_sger scipy_cblas_sger
#define cnn_blas_set_threads scipy_openblas_set_num_threads
#define cnn_blas_get_threads scipy_openblas_get_num_threads
#define cnn_blas_get_corename scipy_openblas_get_corename
#define cnn_blas_get_config scipy_openblas_get_config
#else
#define cnn_sgemm cblas_sgemm
#define cnn_sgemv cblas_sgemv
#define cnn_sger cblas_sger
#define cnn_blas_set_threads openblas_set_num_threads
#define cnn_blas_get_threads openblas_get_num_threads
#define cnn_blas_get_corename openblas_get_corename
#define cnn_blas_get_config openblas_get_config
#endif

#endif
