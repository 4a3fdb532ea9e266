// swift-tools-version:6.1
//
// An application that uses LossKit as a dependent package would: it depends on
// LossKit by path and on swift-numerics, and nothing else. `make test` builds it
// in release and runs it.
//
//   swift run --package-path Examples -c release DigitsClassifier
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name: "LossKit" for a clone named
// LossKit, whatever the checkout here is called.
let lossKit = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "LossKitExamples",
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "DigitsClassifier",
            dependencies: [
                .product(name: "Loss", package: lossKit),
                .product(name: "RealModule", package: "swift-numerics"),
            ]
        )
    ]
)
