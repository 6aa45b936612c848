import BpfcpCore

/// One option a command accepts: a flag, or an option that takes a value.
struct OptionSpec: Sendable {
    /// Long form with its dashes, e.g. "--only". Parsed values are keyed by it.
    let long: String
    /// Short form with its dash, e.g. "-u", when there is one.
    let short: String?
    /// Name of the value in help text ("KINDS"); nil for a flag.
    let valueName: String?
    let help: String
    /// Other long forms accepted for this option and stored under `long`; help text leaves them out.
    let aliases: [String]

    init(_ long: String, short: String? = nil, value: String? = nil, aliases: [String] = [], help: String) {
        self.long = long
        self.short = short
        self.valueName = value
        self.aliases = aliases
        self.help = help
    }

    /// The option as the help text lists it: "-u, --user USER".
    var label: String {
        let names = [short, long].compactMap { $0 }.joined(separator: ", ")
        return valueName.map { names + " " + $0 } ?? names
    }
}

/// The arguments of one command after parsing: flags, option values and operands.
struct Arguments: Sendable {
    /// The arguments as given, for commands that parse them themselves.
    var raw: [String] = []
    var flags: Set<String> = []
    /// Values of each option, keyed by its long form, in command-line order.
    var values: [String: [String]] = [:]
    var operands: [String] = []

    func has(_ long: String) -> Bool {
        flags.contains(long) || values[long] != nil
    }

    /// The last value given for option `long`.
    func value(_ long: String) -> String? {
        values[long]?.last
    }

    /// Every value given for option `long`, with comma-separated lists split.
    func list(_ long: String) -> [String] {
        (values[long] ?? []).flatMap { $0.split(separator: ",").map(String.init) }
    }

    /// Parses `raw` against `options`. Accepts "--opt VALUE", "--opt=VALUE" and
    /// "-o VALUE"; "--" ends the options. An argument such as "-5" is an operand,
    /// so that a negative pid is reported as an invalid pid.
    static func parse(_ raw: [String], options: [OptionSpec], command: String) throws -> Arguments {
        var result = Arguments(raw: raw)
        var index = 0

        while index < raw.count {
            let arg = raw[index]
            index += 1
            if arg == "--" {
                result.operands += raw[index...]
                break
            }
            guard isOption(arg) else {
                result.operands.append(arg)
                continue
            }

            let (name, inlineValue) = splitInline(arg)
            guard let spec = options.first(where: { $0.long == name || $0.short == name || $0.aliases.contains(name) }) else {
                throw BpfcpError("unknown_option",
                                 "unknown option '\(Escape.text(name))' for `bpfcp \(command)`: run `bpfcp \(command) --help` for its options")
            }
            guard let valueName = spec.valueName else {
                if inlineValue != nil {
                    throw BpfcpError("usage", "option \(spec.long) takes no value: remove '=\(Escape.text(inlineValue ?? ""))'")
                }
                result.flags.insert(spec.long)
                continue
            }

            let value: String
            if let inlineValue {
                value = inlineValue
            } else if index < raw.count {
                value = raw[index]
                index += 1
            } else {
                throw BpfcpError("missing_value", "option \(Escape.text(name)) needs a value: \(Escape.text(name)) \(valueName)")
            }
            // An empty path would reach the file system as "" only after the work is done.
            if value.isEmpty && Self.pathValueNames.contains(valueName) {
                throw BpfcpError("usage", "option \(Escape.text(name)) needs a non-empty value: \(Escape.text(name)) \(valueName)")
            }
            result.values[spec.long, default: []].append(value)
        }
        return result
    }

    /// Value names of the options that take a file or directory path.
    static let pathValueNames: Set<String> = ["DIR", "FILE"]

    private static func isOption(_ arg: String) -> Bool {
        guard arg.hasPrefix("-"), arg.count > 1 else { return false }
        let second = arg[arg.index(after: arg.startIndex)]
        return !second.isNumber
    }

    private static func splitInline(_ arg: String) -> (String, String?) {
        guard arg.hasPrefix("--"), let equals = arg.firstIndex(of: "=") else { return (arg, nil) }
        return (String(arg[..<equals]), String(arg[arg.index(after: equals)...]))
    }
}
