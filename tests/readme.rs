//! The Rust example of README.md: compiled and run here, and kept the same
//! text as the README's first `rust` block.

// The example of README.md, verbatim (indented one level, not reformatted):
// `readme_example_is_in_sync` checks that the two are the same text, and
// `readme_example::readme_example_runs` runs it.
// README example: begin
#[rustfmt::skip]
mod readme_example {
    use minibatchnmf::{BetaLoss, CsrView, Init, MiniBatchNmf, MiniBatchNmfParams};
    use ndarray::array;

    fn main() -> Result<(), minibatchnmf::Error> {
        // Dense f64 data, as in scikit-learn's docstring.
        let x = array![[1.0, 1.0], [2.0, 1.0], [3.0, 1.2], [4.0, 1.0], [5.0, 0.8], [6.0, 1.0]];
        let params = MiniBatchNmfParams::new()
            .n_components(2)
            .init(Init::Random)
            .random_state(Some(0));
        let mut model = MiniBatchNmf::<f64>::new(params)?;
        let w = model.fit_transform(&x)?; // W: 6 × 2
        let h = model.components()?; // H: 2 × 2
        assert_eq!((w.dim(), h.dim()), ((6, 2), (2, 2)));
        let err = (&x - &w.dot(&h)).mapv(|v| v * v).sum().sqrt();
        assert!((err - model.reconstruction_err().unwrap()).abs() < 1e-9);

        // CSR f32 data, Kullback-Leibler divergence:
        // [[1, 0, 2], [0, 3, 0], [4, 0, 1], [0, 2, 2]]
        let (indptr, indices) = ([0usize, 2, 3, 5, 7], [0usize, 2, 1, 0, 2, 1, 2]);
        let data = [1.0f32, 2.0, 3.0, 4.0, 1.0, 2.0, 2.0];
        let x = CsrView::new(4, 3, &indptr, &indices, &data)?;
        let params = MiniBatchNmfParams::new()
            .n_components(2)
            .init(Init::Nndsvda)
            .beta_loss(BetaLoss::KullbackLeibler)
            .batch_size(2)
            .random_state(Some(0));
        let mut model = MiniBatchNmf::<f32>::new(params)?;
        let summary = model.fit(x)?;
        println!(
            "n_iter {}, n_steps {}, reconstruction_err {:.4}",
            summary.n_iter, summary.n_steps, summary.reconstruction_err
        );
        for warning in &summary.warnings {
            eprintln!("{warning}"); // e.g. ConvergenceWarning
        }
        let w = model.transform(x)?; // W for (new) data, H fixed
        assert!(w.iter().all(|&v| v >= 0.0));
        Ok(())
    }
// README example: end
    #[test]
    fn readme_example_runs() {
        main().unwrap();
    }
}

#[test]
fn readme_example_is_in_sync() {
    let readme = include_str!("../README.md");
    let block = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n").next())
        .expect("README.md has a ```rust block");
    let source = include_str!("readme.rs");
    let module = source
        .split("mod readme_example {\n")
        .nth(1)
        .and_then(|rest| rest.split("// README example: end").next())
        .expect("markers around the example");
    let dedented: String = module
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        dedented, block,
        "README.md's Rust example and tests/readme.rs differ"
    );
}
