using System.Text.RegularExpressions;

namespace Farm.Checks.Parsers;

/// <summary>What a toolstack error is about, for the facts and the verdict.</summary>
internal enum ToolstackErrorKind
{
    /// <summary>libxl refused passthrough: no IOMMU (hvm_directio) on this host.</summary>
    PassthroughUnsupported,
    /// <summary>Adding a PCI device to a domain failed.</summary>
    PciAddFailed,
    /// <summary>Xen refused to assign the device (XEN_DOMCTL_assign_device), with the errno text.</summary>
    AssignFailed,
    /// <summary>Domain creation gave up on its pci=[...] devices.</summary>
    AddPciDevicesFailed,
    /// <summary>pci-assignable-add/-remove could not move the device to or from the quarantine.</summary>
    QuarantineFailed,
    /// <summary>QEMU's xen-pci-passthrough could not map the device's MSI/MSI-X.</summary>
    QemuMsiMapping,
}

/// <summary>One toolstack error line, with the domain and device when the line names them.</summary>
internal sealed record ToolstackError(ToolstackErrorKind Kind, int? Domain, string? Device, string? Reason, string Line);

/// <summary>
/// Errors from xl/libxl and QEMU's xen-pci-passthrough, with or without the <c>libxl: error: file:line:func:</c>
/// prefix (a log level or a libvirt wrapper may drop or change it). Strings from
/// tools/libs/light/libxl_create.c ("passthrough not supported on this platform",
/// "unable to add pci devices"), tools/libs/light/libxl_pci.c ("libxl__device_pci_add failed for PCI
/// device %x:%x:%x.%x (rc %d)", LOGED "xc_assign_device failed" which appends ": %s" with strerror,
/// "failed to quarantine "PCI_BDF, "failed to de-quarantine "PCI_BDF) and qemu hw/xen/xen_pt_msi.c
/// ("msi_msix_setup: Error: Mapping of MSI%s (err: %i, vec: %#x, entry %#x)", "Can not map MSI",
/// "Can't map physical MSI-X table"). Never throws.
/// </summary>
internal static partial class ToolstackParser
{
    public static IReadOnlyList<ToolstackError> Parse(string? text)
    {
        var errors = new List<ToolstackError>();
        foreach (var line in LogText.Lines(text))
        {
            if (errors.Count >= 1000) break;
            var kind = Classify(line, out var reason);
            if (kind is null) continue;
            int? domain = DomainOf().Match(line) is { Success: true } d && LogText.TryInt(d.Groups[1].Value, out var n) ? n : null;
            string? device = Device().Match(line) is { Success: true } v ? v.Groups[1].Value : null;
            errors.Add(new ToolstackError(kind.Value, domain, device, reason, line.Trim()));
        }
        return errors;
    }

    static ToolstackErrorKind? Classify(string line, out string? reason)
    {
        reason = null;
        if (line.Contains("passthrough not supported on this platform", StringComparison.Ordinal)) return ToolstackErrorKind.PassthroughUnsupported;
        if (line.Contains("libxl__device_pci_add failed", StringComparison.Ordinal) || line.Contains("libxl__device_pci_add  failed", StringComparison.Ordinal))
        {
            reason = Rc().Match(line) is { Success: true } rc ? "rc " + rc.Groups[1].Value : null;
            return ToolstackErrorKind.PciAddFailed;
        }
        if (AssignFailed().Match(line) is { Success: true } a)
        {
            reason = a.Groups[1].Success ? a.Groups[1].Value.Trim() : null;
            return ToolstackErrorKind.AssignFailed;
        }
        if (line.Contains("unable to add pci devices", StringComparison.Ordinal)) return ToolstackErrorKind.AddPciDevicesFailed;
        if (line.Contains("failed to quarantine", StringComparison.Ordinal) || line.Contains("failed to de-quarantine", StringComparison.Ordinal))
            return ToolstackErrorKind.QuarantineFailed;
        if (QemuMsi().Match(line) is { Success: true } q)
        {
            reason = q.Groups["err"].Success ? "err " + q.Groups["err"].Value : null;
            return ToolstackErrorKind.QemuMsiMapping;
        }
        return null;
    }

    [GeneratedRegex(@"xc_assign_device failed(?:: (.{1,120}))?")]
    private static partial Regex AssignFailed();

    [GeneratedRegex(@"\(rc (-?\d{1,6})\)")]
    private static partial Regex Rc();

    [GeneratedRegex(@"Domain (\d{1,6}):")]
    private static partial Regex DomainOf();

    [GeneratedRegex(@"(?:PCI device |quarantine )([0-9a-f]{1,4}:[0-9a-f]{1,2}:[0-9a-f]{1,2}\.[0-7])")]
    private static partial Regex Device();

    [GeneratedRegex(@"Mapping of MSI(?:-X)? \(err: (?<err>-?\d{1,6})|Can not map MSI|Can't map physical MSI-X table")]
    private static partial Regex QemuMsi();
}
