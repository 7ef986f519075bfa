// The C API of minibatchnmf used from C++: an RAII wrapper that turns status
// codes into exceptions, float (f32) data with a row stride, custom
// initialisation, and one handle shared by several threads.
//
//   nmf_example_cpp DATA_DIR [N_ROWS]
//
// DATA_DIR holds digits.npy (scikit-learn's 8x8 digits, 1797 x 64, pixel
// counts 0..16 as uint8; tests/data/ in the repository).
#include <minibatchnmf.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int n_passed = 0, n_failed = 0;

void check(bool cond, const char *what) {
    if (cond) {
        ++n_passed;
    } else {
        ++n_failed;
        std::fprintf(stderr, "FAILED: %s\n", what);
    }
}

// A failed call: its status and the library's message.
struct NmfError : std::runtime_error {
    NmfStatus status;
    NmfError(NmfStatus s, const std::string &msg)
        : std::runtime_error(std::string(nmf_status_str(s)) + ": " + msg), status(s) {}
};

void ok(NmfStatus s) {
    if (s != NMF_OK) throw NmfError(s, nmf_last_error());
}

// Owns an NmfModel; every method throws NmfError on failure.
class Model {
  public:
    explicit Model(const NmfParams &p) {
        NmfModel *m = nullptr;
        ok(nmf_create(&p, &m));
        handle_.reset(m);
    }
    // W of a float matrix of n rows of `cols` values, rows `stride` apart.
    std::vector<float> fit_transform(const float *x, size_t n, size_t cols, size_t stride, size_t k,
                                     const std::vector<float> *w0 = nullptr,
                                     const std::vector<float> *h0 = nullptr) {
        std::vector<float> w(n * k);
        ok(nmf_fit_transform_dense_f32(handle_.get(), x, n, cols, stride,
                                       w0 ? w0->data() : nullptr, h0 ? h0->data() : nullptr,
                                       w0 ? k : 0, w.data(), w.size()));
        return w;
    }
    std::vector<float> transform(const float *x, size_t n, size_t cols, size_t stride) const {
        std::vector<float> w(n * n_components());
        ok(nmf_transform_dense_f32(handle_.get(), x, n, cols, stride, w.data(), w.size()));
        return w;
    }
    std::vector<double> transform(const double *x, size_t n, size_t cols) const {
        std::vector<double> w(n * n_components());
        ok(nmf_transform_dense_f64(handle_.get(), x, n, cols, 0, w.data(), w.size()));
        return w;
    }
    std::vector<float> components() const {
        size_t m = 0;
        ok(nmf_get_n_features_in(handle_.get(), &m));
        std::vector<float> h(n_components() * m);
        ok(nmf_get_components_f32(handle_.get(), h.data(), h.size()));
        return h;
    }
    size_t n_components() const {
        size_t k = 0;
        ok(nmf_get_n_components(handle_.get(), &k));
        return k;
    }
    NmfFitInfo fit_info() const {
        NmfFitInfo info;
        ok(nmf_get_fit_info(handle_.get(), &info));
        return info;
    }

    // The model file's bytes (two calls: size, then content).
    std::vector<unsigned char> to_bytes() const {
        size_t len = 0;
        ok(nmf_save_buffer(handle_.get(), nullptr, 0, &len));
        std::vector<unsigned char> buf(len);
        ok(nmf_save_buffer(handle_.get(), buf.data(), buf.size(), &len));
        return buf;
    }
    void save(const std::string &path) const { ok(nmf_save(handle_.get(), path.c_str())); }
    static Model load(const std::string &path) {
        NmfModel *m = nullptr;
        ok(nmf_load(path.c_str(), &m));
        return Model(m);
    }
    static Model from_bytes(const std::vector<unsigned char> &buf) {
        NmfModel *m = nullptr;
        ok(nmf_load_buffer(buf.data(), buf.size(), &m));
        return Model(m);
    }

  private:
    explicit Model(NmfModel *m) { handle_.reset(m); }
    struct Free {
        void operator()(NmfModel *m) const { nmf_free(m); }
    };
    std::unique_ptr<NmfModel, Free> handle_;
};

// A C-order .npy file of float64 or uint8 values, as doubles.
std::vector<double> load_npy(const std::string &path, size_t &rows, size_t &cols) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    char magic[8];
    f.read(magic, 8);
    if (std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error("not a .npy file");
    size_t header_len = 0;
    unsigned char b[4] = {0, 0, 0, 0};
    if (magic[6] == 1) {
        f.read(reinterpret_cast<char *>(b), 2);
        header_len = b[0] | (b[1] << 8);
    } else {
        f.read(reinterpret_cast<char *>(b), 4);
        header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<size_t>(b[3]) << 24);
    }
    std::string header(header_len, '\0');
    f.read(&header[0], header_len);
    bool f8 = header.find("'<f8'") != std::string::npos, u1 = header.find("'|u1'") != std::string::npos;
    if (!(f8 || u1) || header.find("'fortran_order': False") == std::string::npos)
        throw std::runtime_error("expected C-order float64 or uint8 data");
    size_t open = header.find("'shape': (");
    if (open == std::string::npos ||
        std::sscanf(header.c_str() + open, "'shape': (%zu, %zu)", &rows, &cols) != 2)
        throw std::runtime_error("expected a 2-d array");
    std::vector<double> data(rows * cols);
    if (f8) {
        f.read(reinterpret_cast<char *>(data.data()), data.size() * sizeof(double));
    } else {
        std::vector<unsigned char> bytes(rows * cols);
        f.read(reinterpret_cast<char *>(bytes.data()), bytes.size());
        std::copy(bytes.begin(), bytes.end(), data.begin());
    }
    if (!f) throw std::runtime_error("short read in " + path);
    return data;
}

void print_image(const float *h, size_t side) {
    const char *shades = " .:-=+*#%@";
    float hi = *std::max_element(h, h + side * side);
    for (size_t r = 0; r < side; ++r) {
        std::printf("    ");
        for (size_t c = 0; c < side; ++c) {
            int level = hi > 0 ? static_cast<int>(9.0f * h[r * side + c] / hi) : 0;
            std::printf("%c%c", shades[level], shades[level]);
        }
        std::printf("\n");
    }
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s DATA_DIR [N_ROWS]\n", argv[0]);
        return 2;
    }
    try {
        size_t rows = 0, cols = 0;
        std::vector<double> digits = load_npy(std::string(argv[1]) + "/digits.npy", rows, cols);
        if (argc > 2) rows = std::min(rows, static_cast<size_t>(std::strtoul(argv[2], nullptr, 10)));
        const size_t n = rows, m = cols, k = 10, stride = m + 1;

        // A float table with one extra column (the row's id) after the 64
        // pixels: the pixels are passed with a row stride, without copying.
        std::vector<float> table(n * stride);
        for (size_t i = 0; i < n; ++i) {
            for (size_t j = 0; j < m; ++j) table[i * stride + j] = static_cast<float>(digits[i * m + j] / 16.0);
            table[i * stride + m] = static_cast<float>(i);
        }
        std::vector<float> contiguous(n * m);
        for (size_t i = 0; i < n; ++i)
            std::copy(&table[i * stride], &table[i * stride] + m, &contiguous[i * m]);

        NmfParams p = nmf_params_default();
        p.n_components_mode = NMF_N_COMPONENTS_FIXED;
        p.n_components = k;
        p.init = NMF_INIT_NNDSVDA;
        p.batch_size = 256;
        p.random_state_is_none = false;
        p.random_state = 0;

        Model model(p);
        std::vector<float> w = model.fit_transform(table.data(), n, m, stride, k);
        NmfFitInfo info = model.fit_info();
        std::printf("digits %zu x %zu (float, row stride %zu): n_iter %zu, n_steps %zu, error %.5f\n", n, m,
                    stride, info.n_iter, info.n_steps, info.reconstruction_err);
        std::vector<float> h = model.components();
        for (size_t c = 0; c < 3; ++c) {
            std::printf("  component %zu:\n", c);
            print_image(&h[c * m], 8);
        }

        Model same(p);
        check(same.fit_transform(contiguous.data(), n, m, 0, k) == w, "strided and contiguous X give the same W");
        check(same.components() == h, "... and the same H");

        // Warm start: init = custom from the W and H just found.
        NmfParams pc = p;
        pc.init = NMF_INIT_CUSTOM;
        pc.max_iter = 2;
        Model warm(pc);
        std::vector<float> w2 = warm.fit_transform(contiguous.data(), n, m, 0, k, &w, &h);
        check(w2.size() == n * k, "custom init fit_transform");
        std::printf("warm start from W, H: error %.5f (was %.5f)\n", warm.fit_info().reconstruction_err,
                    info.reconstruction_err);

        // One handle, four threads each transforming a quarter of the rows:
        // the same results as the same calls made one after another.
        const size_t quarter = (n + 3) / 4;
        auto rows_of = [&](size_t t) {
            size_t start = std::min(n, t * quarter);
            return std::make_pair(start, std::min(n, start + quarter) - start);
        };
        std::vector<std::vector<float>> serial(4), parallel(4);
        for (size_t t = 0; t < 4; ++t) {
            auto r = rows_of(t);
            if (r.second) serial[t] = model.transform(&table[r.first * stride], r.second, m, stride);
        }
        std::vector<std::thread> threads;
        for (size_t t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                auto r = rows_of(t);
                if (r.second) parallel[t] = model.transform(&table[r.first * stride], r.second, m, stride);
            });
        }
        for (auto &th : threads) th.join();
        check(parallel == serial, "transforms from 4 threads on one handle equal the serial ones");

        // A model that outlives the process: save, load, transform.
        const char *tmp = std::getenv("TMPDIR");
        std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/nmf_example_cpp_" +
                           std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())) +
                           ".safetensors";
        model.save(path);
        Model loaded = Model::load(path);
        std::remove(path.c_str());
        check(loaded.transform(table.data(), n, m, stride) == model.transform(table.data(), n, m, stride),
              "the loaded model transforms exactly as the saved one");
        check(loaded.components() == model.components(), "the loaded model has the same H");
        Model copy = Model::from_bytes(model.to_bytes());
        check(copy.transform(contiguous.data(), n, m, 0) == model.transform(contiguous.data(), n, m, 0),
              "a model loaded from a buffer transforms exactly as the saved one");
        std::vector<unsigned char> damaged = model.to_bytes();
        damaged.resize(damaged.size() / 2);
        try {
            Model::from_bytes(damaged);
            check(false, "a truncated model throws");
        } catch (const NmfError &e) {
            check(e.status == NMF_ERR_CORRUPT_MODEL, "a truncated model: NMF_ERR_CORRUPT_MODEL");
            std::printf("expected error: %s\n", e.what());
        }
        std::printf("save -> load -> transform: identical W\n");

        // Errors are exceptions carrying the status.
        try {
            model.transform(digits.data(), n, m);
            check(false, "f64 data on an f32 model throws");
        } catch (const NmfError &e) {
            check(e.status == NMF_ERR_DTYPE_MISMATCH, "f64 data on an f32 model: NMF_ERR_DTYPE_MISMATCH");
            std::printf("expected error: %s\n", e.what());
        }
        try {
            NmfParams bad = p;
            bad.l1_ratio = 2.0;
            Model never(bad);
            check(false, "l1_ratio = 2 throws");
        } catch (const NmfError &e) {
            check(e.status == NMF_ERR_INVALID_PARAM, "l1_ratio = 2: NMF_ERR_INVALID_PARAM");
            std::printf("expected error: %s\n", e.what());
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
    std::printf("cxx-example: %d passed, %d failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
