library(testthat)
library(minibatchnmf)

test_check("minibatchnmf")
