# minibatchnmf from Julia through ccall (no package needed).
#
#   julia nmf_example.jl [LIBRARY [DIGITS_NPY]]
#
# LIBRARY defaults to "libminibatchnmf" (found on the loader path, e.g. after
# `make install`); DIGITS_NPY to the repository's tests/data/digits.npy. The function
# names and struct layouts here are checked against include/minibatchnmf.h by
# `make ffi-julia-check`.

const libnmf = length(ARGS) >= 1 ? ARGS[1] : "libminibatchnmf"
const digits_path = length(ARGS) >= 2 ? ARGS[2] : joinpath(@__DIR__, "..", "..", "tests", "data", "digits.npy")

# Status codes and enum values used below (from the header).
const NMF_OK = 0
const NMF_ERR_NOT_FITTED = 3
const NMF_ERR_DTYPE_MISMATCH = 4
const NMF_ERR_CORRUPT_MODEL = 20
const NMF_N_COMPONENTS_FIXED = 2
const NMF_INIT_NNDSVDA = 3

# Mirrors of the header's structs, field for field.
struct NmfParams
    n_components_mode::Cint
    n_components::Csize_t
    init::Cint
    batch_size::Csize_t
    beta_loss::Cdouble
    tol::Cdouble
    max_no_improvement::Csize_t
    max_no_improvement_is_none::Bool
    max_iter::Csize_t
    alpha_w::Cdouble
    alpha_h::Cdouble
    alpha_h_is_same::Bool
    l1_ratio::Cdouble
    forget_factor::Cdouble
    fresh_restarts::Bool
    fresh_restarts_max_iter::Csize_t
    transform_max_iter::Csize_t
    transform_max_iter_is_none::Bool
    random_state::UInt32
    random_state_is_none::Bool
    verbose::Bool
end

struct NmfFitInfo
    n_iter::Csize_t
    n_steps::Csize_t
    reconstruction_err::Cdouble
    stop_reason::Cint
    convergence_warning::Bool
    ignored_init_warning::Bool
end

# A copy of an immutable struct with some fields changed.
function with(p::T; changes...) where {T}
    T((haskey(changes, f) ? convert(fieldtype(T, f), changes[f]) : getfield(p, f) for f in fieldnames(T))...)
end

struct NmfError <: Exception
    status::Cint
    message::String
end
Base.showerror(io::IO, e::NmfError) = print(io, unsafe_string(ccall((:nmf_status_str, libnmf), Cstring, (Cint,), e.status)), ": ", e.message)

function check(status::Cint)
    if status != NMF_OK
        throw(NmfError(status, unsafe_string(ccall((:nmf_last_error, libnmf), Cstring, ()))))
    end
    nothing
end

# An NmfModel handle released by the garbage collector.
mutable struct Model
    ptr::Ptr{Cvoid}
    function Model(p::NmfParams)
        out = Ref{Ptr{Cvoid}}(C_NULL)
        check(ccall((:nmf_create, libnmf), Cint, (Ref{NmfParams}, Ref{Ptr{Cvoid}}), p, out))
        m = new(out[])
        finalizer(m -> ccall((:nmf_free, libnmf), Cvoid, (Ptr{Cvoid},), m.ptr), m)
    end
    # Adopt a handle returned by nmf_load / nmf_load_buffer.
    function Model(ptr::Ptr{Cvoid})
        m = new(ptr)
        finalizer(m -> ccall((:nmf_free, libnmf), Cvoid, (Ptr{Cvoid},), m.ptr), m)
    end
end

# Models that outlive the process: a safetensors file (atomic write) or bytes.
save(m::Model, path::AbstractString) =
    check(ccall((:nmf_save, libnmf), Cint, (Ptr{Cvoid}, Cstring), m.ptr, path))

function load(path::AbstractString)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:nmf_load, libnmf), Cint, (Cstring, Ref{Ptr{Cvoid}}), path, out))
    Model(out[])
end

function to_bytes(m::Model)
    n = Ref{Csize_t}(0)
    check(ccall((:nmf_save_buffer, libnmf), Cint, (Ptr{Cvoid}, Ptr{UInt8}, Csize_t, Ref{Csize_t}),
                m.ptr, C_NULL, 0, n))
    buf = Vector{UInt8}(undef, n[])
    check(ccall((:nmf_save_buffer, libnmf), Cint, (Ptr{Cvoid}, Ptr{UInt8}, Csize_t, Ref{Csize_t}),
                m.ptr, buf, length(buf), n))
    buf
end

function from_bytes(buf::Vector{UInt8})
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:nmf_load_buffer, libnmf), Cint, (Ptr{UInt8}, Csize_t, Ref{Ptr{Cvoid}}),
                buf, length(buf), out))
    Model(out[])
end

function getsize(f::Symbol, m::Model)
    v = Ref{Csize_t}(0)
    if f === :n_components
        check(ccall((:nmf_get_n_components, libnmf), Cint, (Ptr{Cvoid}, Ref{Csize_t}), m.ptr, v))
    else
        check(ccall((:nmf_get_n_features_in, libnmf), Cint, (Ptr{Cvoid}, Ref{Csize_t}), m.ptr, v))
    end
    Int(v[])
end

# Julia arrays are column-major: the memory of X' (m x n) is X (n x m) row-major.
function fit_transform!(m::Model, X::Matrix{Float64}, k::Integer)
    n, f = size(X)
    Xt = permutedims(X)
    Wt = Matrix{Float64}(undef, k, n)
    check(ccall((:nmf_fit_transform_dense_f64, libnmf), Cint,
                (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t, Csize_t, Csize_t,
                 Ptr{Cdouble}, Ptr{Cdouble}, Csize_t, Ptr{Cdouble}, Csize_t),
                m.ptr, Xt, n, f, 0, C_NULL, C_NULL, 0, Wt, length(Wt)))
    permutedims(Wt)
end

function transform(m::Model, X::Matrix{Float64})
    n, f = size(X)
    k = getsize(:n_components, m)
    Xt = permutedims(X)
    Wt = Matrix{Float64}(undef, k, n)
    check(ccall((:nmf_transform_dense_f64, libnmf), Cint,
                (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t, Csize_t, Csize_t, Ptr{Cdouble}, Csize_t),
                m.ptr, Xt, n, f, 0, Wt, length(Wt)))
    permutedims(Wt)
end

function components(m::Model)
    k, f = getsize(:n_components, m), getsize(:n_features_in, m)
    Ht = Matrix{Float64}(undef, f, k)
    check(ccall((:nmf_get_components_f64, libnmf), Cint, (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t), m.ptr, Ht, length(Ht)))
    permutedims(Ht)
end

function inverse_transform(m::Model, W::Matrix{Float64})
    n, k = size(W)
    f = getsize(:n_features_in, m)
    Wt = permutedims(W)
    Xt = Matrix{Float64}(undef, f, n)
    check(ccall((:nmf_inverse_transform_dense_f64, libnmf), Cint,
                (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t, Csize_t, Csize_t, Ptr{Cdouble}, Csize_t),
                m.ptr, Wt, n, k, 0, Xt, length(Xt)))
    permutedims(Xt)
end

function fit_info(m::Model)
    info = Ref{NmfFitInfo}()
    check(ccall((:nmf_get_fit_info, libnmf), Cint, (Ptr{Cvoid}, Ref{NmfFitInfo}), m.ptr, info))
    info[]
end

# A C-order .npy file of float64 or uint8 values, as a Float64 matrix.
function read_npy(path)
    open(path) do io
        @assert read(io, 6) == UInt8[0x93, UInt8('N'), UInt8('U'), UInt8('M'), UInt8('P'), UInt8('Y')]
        major = read(io, UInt8); read(io, UInt8)
        hlen = major == 1 ? Int(ltoh(read(io, UInt16))) : Int(ltoh(read(io, UInt32)))
        header = String(read(io, hlen))
        f8 = occursin("'<f8'", header)
        @assert (f8 || occursin("'|u1'", header)) && occursin("'fortran_order': False", header)
        dims = parse.(Int, match(r"'shape': \((\d+), (\d+)\)", header).captures)
        n, f = dims[1], dims[2]
        data = Vector{f8 ? Float64 : UInt8}(undef, n * f)
        read!(io, data)
        permutedims(reshape(Float64.(ltoh.(data)), f, n))
    end
end

println("minibatchnmf ", unsafe_string(ccall((:nmf_version, libnmf), Cstring, ())))
check(ccall((:nmf_set_num_threads, libnmf), Cint, (Csize_t,), 0))

X = read_npy(digits_path)
k = 10
p = ccall((:nmf_params_default, libnmf), NmfParams, ())
p = with(p; n_components_mode = NMF_N_COMPONENTS_FIXED, n_components = k, init = NMF_INIT_NNDSVDA,
         batch_size = 256, random_state = 0, random_state_is_none = false)
model = Model(p)
W = fit_transform!(model, X, k)
H = components(model)
info = fit_info(model)
println("digits $(size(X)): n_iter $(info.n_iter), n_steps $(info.n_steps), reconstruction_err $(info.reconstruction_err)")
@assert isapprox(sqrt(sum(abs2, X - W * H)), info.reconstruction_err; rtol = 1e-8)
@assert isapprox(inverse_transform(model, W[1:5, :]), W[1:5, :] * H; rtol = 1e-10)
println("W of the first 3 digits: ", round.(transform(model, X[1:3, :]); digits = 3))

try
    transform(Model(p), X)
catch e
    e isa NmfError && e.status == NMF_ERR_NOT_FITTED || rethrow()
    println("expected error: ", sprint(showerror, e))
end
Xf = Float32.(permutedims(X[1:2, :]))
Wf = Matrix{Float32}(undef, k, 2)
status = ccall((:nmf_transform_dense_f32, libnmf), Cint,
               (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t, Csize_t, Csize_t, Ptr{Cfloat}, Csize_t),
               model.ptr, Xf, 2, size(X, 2), 0, Wf, length(Wf))
@assert status == NMF_ERR_DTYPE_MISMATCH

# save -> load -> transform gives the same W; so does a round trip through bytes.
path = tempname() * ".safetensors"
save(model, path)
loaded = load(path)
rm(path)
@assert transform(loaded, X[1:20, :]) == transform(model, X[1:20, :])
@assert components(loaded) == H
@assert transform(from_bytes(to_bytes(model)), X[1:20, :]) == transform(model, X[1:20, :])
damaged = to_bytes(model)
damaged[end ÷ 2] ⊻= 0x01
try
    from_bytes(damaged)
    error("a damaged model must not load")
catch e
    e isa NmfError && e.status == NMF_ERR_CORRUPT_MODEL || rethrow()
    println("expected error: ", sprint(showerror, e))
end
println("save -> load -> transform: identical W")
println("julia-example: done")
