// swift-tools-version:6.1
//
// LossKit: neural-network loss functions with PyTorch's semantics, hand-written
// backward passes and fused kernels, on the CPU.
//
// The libraries depend on the toolchain, OpenBLAS/LAPACKE and swift-numerics
// only; LossDistributed adds Open MPI (a package that does not use it never
// builds or links it). The `losskit` command-line tool (swift-argument-parser),
// the benchmarks (package-benchmark) and the fuzz targets are nested packages in
// `Tool/`, `Benchmarks/` and `Fuzz/`, so none of their dependencies reaches a
// package that depends on LossKit.
import PackageDescription

let package = Package(
    name: "LossKit",
    products: [
        .library(name: "Loss", targets: ["Loss"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "ReferenceCases", targets: ["ReferenceCases"]),
        .library(name: "NumPyFiles", targets: ["NumPyFiles"]),
        // Vocab-parallel and data-parallel losses over a Communicator (Open MPI, or one
        // process). Only a package that uses this product needs Open MPI to build and link.
        .library(name: "LossDistributed", targets: ["LossDistributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.0"),
    ],
    targets: [
        // Debian's libopenblas-dev and liblapacke-dev, found through pkg-config.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev", "pkg-config"])]
        ),
        // Private C shim with the numeric kernels; no stable API.
        .target(name: "CLossKernels"),
        .target(
            name: "Kernels",
            dependencies: ["CLossKernels", "COpenBLAS", .product(name: "RealModule", package: "swift-numerics")]
        ),
        .target(name: "Loss", dependencies: ["Kernels", .product(name: "RealModule", package: "swift-numerics")]),
        .target(name: "ReferenceCases", dependencies: ["Loss"]),
        // Debian's libopenmpi-dev, found through pkg-config; used by LossDistributed only.
        .systemLibrary(
            name: "COpenMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        // Private C shim holding every MPI call (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM are macros).
        .target(name: "CLossMPI", dependencies: ["COpenMPI"]),
        .target(name: "LossDistributed", dependencies: ["Loss", "Kernels", "CLossMPI"]),
        // Bounds-checked reader and writer of NumPy .npy files (no dependency on the loss layer).
        .target(name: "NumPyFiles"),
        // Release-mode memory and timing measurements of LinearCrossEntropyLoss (not part of the tests).
        .executableTarget(name: "linear-ce-bench", dependencies: ["Loss", "CLossKernels"]),
        .target(name: "_TestSupport", dependencies: ["Loss"], path: "Tests/_TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "_TestSupport"]),
        .testTarget(name: "LossTests", dependencies: ["Loss", "_TestSupport"]),
        .testTarget(name: "ReferenceCasesTests", dependencies: ["ReferenceCases", "Loss", "_TestSupport"]),
        .testTarget(name: "NumPyFilesTests", dependencies: ["NumPyFiles", "_TestSupport"]),
        .testTarget(
            name: "LossDistributedTests", dependencies: ["LossDistributed", "Loss", "ReferenceCases", "_TestSupport"]),
    ]
)
