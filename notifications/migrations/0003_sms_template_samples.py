"""Sample SMS templates for every message kind on Alibaba Cloud and Tencent Cloud.

The template codes are placeholders: replace each with the code the provider
approved (admin → 短信模板) before sending through that provider.
"""

from django.db import migrations

# kind: (parameter names, sample text with {name} placeholders)
SAMPLES = {
    "outage_advance": (["area", "start", "end"], "尊敬的客户：{area}计划于{start}至{end}停电检修，请提前做好准备。"),
    "outage_start": (["area", "restore"], "尊敬的客户：{area}因故障停电，预计{restore}恢复供电，抢修人员正在处理。"),
    "outage_delay": (["area", "restore"], "尊敬的客户：{area}停电作业延时，预计{restore}恢复供电，敬请谅解。"),
    "outage_restored": (["area", "time"], "尊敬的客户：{area}已于{time}恢复供电，感谢您的理解与支持。"),
    "outage_cancelled": (["area", "start"], "尊敬的客户：原定{start}的{area}停电计划已取消，供电正常。"),
    "complaint_accepted": (["number"], "您的投诉已受理，工单号{number}，我们将尽快处理并回复您。"),
    "repair_accepted": (["number"], "您的报修已受理，工单号{number}，抢修人员将尽快与您联系。"),
    "broadcast_important": (["content"], "重要通知：{content}"),
    "generic": (["content"], "{content}"),
}


def aliyun_text(text: str, names: list[str]) -> str:
    for name in names:
        text = text.replace("{" + name + "}", "${" + name + "}")
    return text


def tencent_text(text: str, names: list[str]) -> str:
    for position, name in enumerate(names, start=1):
        text = text.replace("{" + name + "}", "{" + str(position) + "}")
    return text


def add_samples(apps, schema_editor):
    SmsTemplate = apps.get_model("notifications", "SmsTemplate")
    rows = []
    for number, (kind, (names, text)) in enumerate(SAMPLES.items(), start=1):
        rows.append(
            SmsTemplate(
                provider="aliyun",
                kind=kind,
                template_code=f"SMS_90000000{number}",
                param_names=names,
                sample_text=aliyun_text(text, names),
            )
        )
        rows.append(
            SmsTemplate(
                provider="tencent",
                kind=kind,
                template_code=f"90000{number}",
                param_names=names,
                sample_text=tencent_text(text, names),
            )
        )
    SmsTemplate.objects.bulk_create(rows, ignore_conflicts=True)


def remove_samples(apps, schema_editor):
    SmsTemplate = apps.get_model("notifications", "SmsTemplate")
    SmsTemplate.objects.filter(template_code__startswith="SMS_90000000").delete()
    SmsTemplate.objects.filter(provider="tencent", template_code__startswith="90000").delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_sms_delivery")]

    operations = [migrations.RunPython(add_samples, remove_samples)]
