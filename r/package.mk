# The R package r/minibatchnmf (included by the top-level Makefile).
#
#   make r-package-test      R CMD build + R CMD check (with the testthat tests); the
#                            package's configure builds the crate with cargo
#   make r-package-example   the README's comparison with RcppML and NMF (not in make test)
#
# Install it as a user: R CMD INSTALL r/minibatchnmf

TEST_DEB_PKGS += r-base-core r-base-dev r-cran-testthat r-cran-matrix
PKG_TEST_TARGETS += r-package-test
R_PKG_BUILD := target/r-package

.PHONY: r-package-test r-package-example

# R CMD check works on a copy of the package (the tarball), so configure is told where
# the crate is. A WARNING or a NOTE fails the target as an ERROR does.
r-package-test:
	@$(MAKE) --no-print-directory deps EXTRA_DEB_PKGS="r-base-core r-base-dev r-cran-testthat r-cran-matrix"
	@rm -rf $(R_PKG_BUILD) && mkdir -p $(R_PKG_BUILD)
	cd $(R_PKG_BUILD) && R CMD build --no-build-vignettes $(abspath r/minibatchnmf) >build.log 2>&1 || { cat build.log; exit 1; }
	cd $(R_PKG_BUILD) && MINIBATCHNMF_CRATE=$(abspath .) _R_CHECK_FORCE_SUGGESTS_=false \
	    R CMD check --no-manual --no-build-vignettes minibatchnmf_*.tar.gz
	@! grep -q '^Status:.*WARNING' $(R_PKG_BUILD)/minibatchnmf.Rcheck/00check.log || \
	    { echo "r-package-test: R CMD check gave a WARNING"; exit 1; }
	@! grep -q '^Status:.*NOTE' $(R_PKG_BUILD)/minibatchnmf.Rcheck/00check.log || \
	    { echo "r-package-test: R CMD check gave a NOTE:"; grep -A3 '\.\.\. NOTE' $(R_PKG_BUILD)/minibatchnmf.Rcheck/00check.log; exit 1; }

r-package-example: deps
	@$(MAKE) --no-print-directory deps EXTRA_DEB_PKGS="r-cran-rcppml r-cran-nmf"
	@mkdir -p $(R_PKG_BUILD)/lib
	R CMD INSTALL -l $(R_PKG_BUILD)/lib r/minibatchnmf
	R_LIBS=$(abspath $(R_PKG_BUILD)/lib) Rscript r/minibatchnmf/inst/examples/compare.R $(R_EXAMPLE_ARGS)
